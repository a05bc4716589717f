#!/usr/bin/env bash
# Side-by-side benchmarks of timefence against DuckDB, Polars, pandas and Feast.
#
#   bash benchmarks/run.sh                 # sizes 100k,1m; writes benchmarks/RESULTS.md
#   bash benchmarks/run.sh --sizes 100k,1m,10m
#   bash benchmarks/run.sh --smoke         # tiny, about a minute, no Feast; exits non-zero
#                                          # when the engines' joins differ
#
# Creates benchmarks/.venv, installs the pinned requirements, builds the
# server and the load generator into benchmarks/out/bin, generates the data
# into benchmarks/data (reused while its parameters are unchanged) and runs
# every phase. Any other flag goes to the harness: see
# `bash benchmarks/run.sh --help`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cmdline="bash benchmarks/run.sh $*"

reqs="$here/requirements-full.txt"
for arg in "$@"; do
	if [[ "$arg" == "--smoke" ]]; then reqs="$here/requirements.txt"; fi
done
for arg in "$@"; do
	if [[ "$arg" == "--feast" ]]; then reqs="$here/requirements-full.txt"; fi
done

venv="$here/.venv"
python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
	echo "run.sh: creating $venv" >&2
	"$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(cat "$here/requirements.txt" "$reqs" | sha256sum | cut -c1-16)"
if [[ ! -e "$stamp" ]]; then
	echo "run.sh: installing $(basename "$reqs")" >&2
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$reqs"
	touch "$stamp"
fi

# The project's Python client, as a user installs it (its dependencies are
# pinned in requirements.txt).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$repo/client/python"

mkdir -p "$here/out/bin"
echo "run.sh: building the server and the load generator" >&2
(cd "$repo" && go build -o "$here/out/bin/timefence" ./cmd/timefence)
# -mod=mod: the load generator replaces timefence with ../..; follow its
# dependency versions when they move.
(cd "$here/loadgen" && go build -mod=mod -o "$here/out/bin/loadgen" .)

# Relative paths given to the harness (--results) are the caller's.
export TFBENCH_CALLER_DIR="$PWD"
cd "$here"
exec "$venv/bin/python" -m tfbench --command "$cmdline" "$@"
