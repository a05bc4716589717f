"""The ```python blocks of the docs, run as doc tests against a real server.

Every ```python block of README.md, client/python/README.md and docs/*.md
runs, unless the line just before its fence is
``<!-- doctest: skip: REASON -->`` (the reason is required). The blocks of
one file run in order in one namespace, like the cells of a notebook, in a
fresh working directory holding a copy of examples/, against a fresh server
with its own data directory. The docs say ``timefence.Client("localhost:7070")``,
so that server listens on 127.0.0.1:7070. A ``NoDataUnderSplit`` warning
fails the block: a doc whose read finds nothing under its split teaches
nothing.
"""

from __future__ import annotations

import errno
import pathlib
import re
import shutil
import socket
import textwrap
import traceback
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pytest
from conftest import REPO_ROOT, start_server, stop_server

import timefence

DOC_HOST, DOC_PORT = "127.0.0.1", 7070

_FENCE = re.compile(r"^(\s*)```python\s*$")
_MARKER = re.compile(r"^\s*<!--\s*doctest:\s*skip\b(.*?)-->\s*$")


@dataclass
class Block:
    path: str  # relative to the repository root
    line: int  # the line number of the block's first line of code
    source: str
    skip: Optional[str] = None  # the reason, when the block is skipped


class DocError(Exception):
    """A Markdown file whose doc test markers are wrong."""


def python_blocks(text: str, path: str) -> List[Block]:
    """The ```python blocks of a Markdown text, in order."""
    lines = text.splitlines()
    blocks: List[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        skip = None
        if i > 0:
            marker = _MARKER.match(lines[i - 1])
            if marker:
                reason = marker.group(1).strip()
                if not reason.startswith(":") or not reason[1:].strip():
                    raise DocError(f"{path}:{i}: a skip marker needs a reason: <!-- doctest: skip: REASON -->")
                skip = reason[1:].strip()
        indent, start = m.group(1), i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if j == len(lines):
            raise DocError(f"{path}:{i + 1}: the ```python block is never closed")
        code = [line[len(indent):] if line.startswith(indent) else line for line in lines[start:j]]
        blocks.append(Block(path, start + 1, "\n".join(code) + "\n", skip))
        i = j + 1
    return blocks


def doc_files() -> List[str]:
    """The Markdown files whose python blocks are doc tests, relative to the root."""
    paths = [REPO_ROOT / "README.md", REPO_ROOT / "client" / "python" / "README.md"]
    paths += sorted((REPO_ROOT / "docs").glob("*.md"))
    return [p.relative_to(REPO_ROOT).as_posix() for p in paths]


def run_blocks(blocks: List[Block], namespace: Dict[str, Any]) -> int:
    """Runs the blocks in order in namespace; fails the test at the first
    block that raises, naming its file and first line. Returns how many ran."""
    ran = 0
    for b in blocks:
        if b.skip is not None:
            continue
        # Leading newlines keep the Markdown file's line numbers in tracebacks.
        code = compile("\n" * (b.line - 1) + b.source, b.path, "exec")
        failure = None
        try:
            exec(code, namespace)
        except Exception as e:
            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__.tb_next if e.__traceback__ else None))
            failure = f"{b.path}: the block at line {b.line} failed: {type(e).__name__}: {e}\n\n{tb}"
        if failure is not None:  # outside the except: no chained traceback
            pytest.fail(failure, pytrace=False)
        ran += 1
    return ran


def check_port_free(host: str, port: int) -> None:
    """Fails the test when something listens on port, on IPv4 or IPv6 loopback."""
    for family, addr in ((socket.AF_INET, host), (socket.AF_INET6, "::1")):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 here
        with s:
            # As the server's own listener does: a connection of an earlier
            # run still in TIME_WAIT does not make the port busy.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((addr, port))
                in_use = False
            except OSError as e:
                # Another error: no such address (IPv6 loopback disabled),
                # where nothing can listen.
                in_use = e.errno == errno.EADDRINUSE
        if in_use:
            pytest.fail(f"port {port} is in use: the docs' blocks talk to localhost:{port}; stop what listens there", pytrace=False)


def _close(namespace: Dict[str, Any]) -> None:
    import pyarrow.flight as fl

    for value in list(namespace.values()):
        if isinstance(value, (timefence.Client, fl.FlightClient)):
            try:
                value.close()
            except Exception:
                pass


DOCS = doc_files()


@pytest.mark.parametrize("doc", DOCS)
def test_doc_python_blocks(doc: str, binary: pathlib.Path, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every python block of the file runs, in order, against a fresh server."""
    blocks = python_blocks((REPO_ROOT / doc).read_text(), doc)
    if not any(b.skip is None for b in blocks):
        return  # nothing to run: no server needed
    work = tmp_path / "work"
    shutil.copytree(REPO_ROOT / "examples", work / "examples")
    monkeypatch.chdir(work)
    check_port_free(DOC_HOST, DOC_PORT)
    proc, _ = start_server(binary, tmp_path / "data", tmp_path / "server.log", address=f"{DOC_HOST}:{DOC_PORT}")
    namespace: Dict[str, Any] = {"__name__": "__main__"}
    try:
        with warnings.catch_warnings():
            # A doc that reads nothing under its split teaches nothing.
            warnings.simplefilter("error", timefence.NoDataUnderSplit)
            assert run_blocks(blocks, namespace) > 0
    finally:
        _close(namespace)
        stop_server(proc)


def test_docs_have_python_blocks() -> None:
    """The files are found and hold blocks, so the test above checks something."""
    counts = {doc: len(python_blocks((REPO_ROOT / doc).read_text(), doc)) for doc in DOCS}
    assert "docs/flight.md" in counts
    assert counts["README.md"] >= 1 and counts["client/python/README.md"] >= 1 and counts["docs/flight.md"] >= 1


MARKDOWN = textwrap.dedent(
    """\
    # Title

    ```python
    x = 1
    ```

    <!-- doctest: skip: needs a GPU -->
    ```python
    raise RuntimeError("skipped")
    ```

    - a list item:

      ```python
      y = x + 1
      ```

    ```sh
    echo not python
    ```
    """
)


def test_blocks_parsed_and_skipped() -> None:
    blocks = python_blocks(MARKDOWN, "doc.md")
    assert [(b.line, b.source, b.skip) for b in blocks] == [
        (4, "x = 1\n", None),
        (9, 'raise RuntimeError("skipped")\n', "needs a GPU"),
        (15, "y = x + 1\n", None),
    ]
    namespace: Dict[str, Any] = {}
    assert run_blocks(blocks, namespace) == 2
    assert namespace["y"] == 2


@pytest.mark.parametrize("marker", ["<!-- doctest: skip -->", "<!-- doctest: skip: -->", "<!-- doctest: skip:   -->"])
def test_skip_needs_a_reason(marker: str) -> None:
    with pytest.raises(DocError, match=r"doc\.md:1: a skip marker needs a reason"):
        python_blocks(f"{marker}\n```python\nx = 1\n```\n", "doc.md")


def test_failing_block_names_file_and_line() -> None:
    blocks = python_blocks("text\n\n```python\nx = 1\nundefined_name\n```\n", "doc.md")
    with pytest.raises(pytest.fail.Exception) as e:
        run_blocks(blocks, {})
    msg = str(e.value)
    assert msg.startswith("doc.md: the block at line 4 failed: NameError: name 'undefined_name' is not defined")
    assert 'File "doc.md", line 5' in msg  # the traceback points at the Markdown line
