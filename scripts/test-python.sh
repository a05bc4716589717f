#!/usr/bin/env bash
# Tests the Python client against the real server:
#   1. creates (or reuses) the virtualenv client/python/.venv and installs
#      ./client/python[test] into it, and client/python/.venv-feast with
#      ./client/python[test,feast] for the Feast import's tests (Feast pins
#      older pandas, which the client's own tests must not run on);
#   2. regenerates the gRPC stubs (scripts/gen-python.sh) and fails when the
#      committed ones differ;
#   3. runs pytest (which builds the server with `go build` unless
#      TIMEFENCE_BIN names a binary) in .venv, then the Feast import's tests
#      and the online frame's and packed results' (on pandas 2) in
#      .venv-feast, and exits with the first failure's status.
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
venv_feast="client/python/.venv-feast"

# Not editable: the tests run what `pip install ./client/python` installs.
# A stale build/ could slip removed modules into the wheel.
setup() { # VENV EXTRAS
    if [ ! -x "$1/bin/python" ]; then
        echo "test-python: creating $1" >&2
        "$python" -m venv "$1"
    fi
    rm -rf client/python/build
    "$1/bin/python" -m pip install --quiet --disable-pip-version-check "./client/python[$2]"
}
setup "$venv" test
setup "$venv_feast" test,feast
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
# The Feast import's tests, which .venv skips (no feast there), and the online
# frame's and packed results' on the pandas 2 that Feast pins. Exit code 5:
# the arguments selected none of them.
"$root/$venv_feast/bin/python" -m pytest -p no:cacheprovider test_feast_import.py test_online_frame.py test_online_packed.py "$@"
feast_status=$?
set -e
if [ "$status" -eq 0 ] && [ "$feast_status" -ne 5 ]; then
    status=$feast_status
fi
exit "$status"
