#!/usr/bin/env bash
# Tests the Python client against the real server:
#   1. creates (or reuses) the virtualenv client/python/.venv and installs
#      ./client/python[test,feast] into it (feast for the Feast import tests);
#   2. regenerates the gRPC stubs (scripts/gen-python.sh) and fails when the
#      committed ones differ;
#   3. runs pytest (which builds the server with `go build` unless
#      TIMEFENCE_BIN names a binary) and exits with its status.
# Needs Python >= 3.9 with venv and pip, Go, and access to PyPI.
# Extra arguments go to pytest, e.g. scripts/test-python.sh -k online -x;
# --setup-only stops after step 1 (make test runs it beside the Go tests).
#
# Environment: PYTHON (default python3), TIMEFENCE_BIN (a prebuilt server).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-python3}"
venv="client/python/.venv"

if [ ! -x "$venv/bin/python" ]; then
    echo "test-python: creating $venv" >&2
    "$python" -m venv "$venv"
fi
# Not editable: the tests run what `pip install ./client/python` installs.
# A stale build/ could slip removed modules into the wheel.
rm -rf client/python/build
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "./client/python[test,feast]"
if [ "${1:-}" = "--setup-only" ]; then
    exit 0
fi

echo "test-python: checking that the generated stubs are current" >&2
PYTHON="$python" bash scripts/gen-python.sh
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "test-python: not a git work tree; cannot check the stubs" >&2
    exit 1
fi
stale="$(git status --porcelain --untracked-files=all -- client/python/timefence/_proto)"
if [ -n "$stale" ]; then
    echo "$stale" >&2
    echo "test-python: client/python/timefence/_proto is stale: run scripts/gen-python.sh and commit the result" >&2
    exit 1
fi

# Run from the tests directory so that `import timefence` finds the installed
# package, not the source tree.
cd client/python/tests
set +e
"$root/$venv/bin/python" -m pytest -p no:cacheprovider "$@"
status=$?
set -e
exit "$status"
