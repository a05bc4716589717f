#!/usr/bin/env bash
# The point-in-time join on Spark beside the server's, on the same history
# and spines:
#
#   bash benchmarks/spark/run.sh                  # spines of 1M and 10M rows
#   bash benchmarks/spark/run.sh --sizes 10k      # a quick check
#   bash benchmarks/spark/run.sh --help           # every flag
#
# Creates benchmarks/spark/.venv with the pinned requirements and the
# project's Python client, builds the server into benchmarks/spark/out/bin,
# and runs join.py, which prints the table. Needs Java 17 or later.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$(dirname "$here")")"
cmdline="bash benchmarks/spark/run.sh $*"

venv="$here/.venv"
python="${PYTHON:-python3}"
if [[ ! -x "$venv/bin/python" ]]; then
	echo "run.sh: creating $venv" >&2
	"$python" -m venv "$venv"
fi
stamp="$venv/.installed-$(cat "$here/../requirements.txt" "$here/requirements.txt" | sha256sum | cut -c1-16)"
if [[ ! -e "$stamp" ]]; then
	echo "run.sh: installing requirements.txt" >&2
	"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
	touch "$stamp"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$repo/client/python"

mkdir -p "$here/out/bin"
echo "run.sh: building the server" >&2
(cd "$repo" && go build -o "$here/out/bin/timefence" ./cmd/timefence)
exec "$venv/bin/python" "$here/join.py" --binary "$here/out/bin/timefence" --work "$here/out/run" --command "$cmdline" "$@"
