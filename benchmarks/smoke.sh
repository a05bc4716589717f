#!/usr/bin/env bash
# CI smoke test of the benchmark harness: tiny data, about a minute, no Feast.
# Fails when timefence, DuckDB, Polars, pandas and the brute-force read rule
# do not return identical joins. It times nothing against any threshold.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" --smoke "$@"
