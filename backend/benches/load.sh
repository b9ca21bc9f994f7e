#!/usr/bin/env bash
# Load benchmark of POST /v1/analyze (target: >= 5,000 requests/s, p99 <= 5 ms on 2 cores).
# Builds the release backend, serves it on a fresh data dir on a free loopback port,
# warms up, drives it with `oha` (or `wrk` when oha is missing) for DURATION at each
# concurrency level, prints requests/s, p50 and p99, and stops the server.
# With oha, one more run holds the target rate (RATE, default 5000 requests/s, latency
# corrected for coordinated omission): the p99 that the target is about.
# Usage: backend/benches/load.sh  (env: DURATION=10 CONCURRENCY="16 64" RATE=5000 TOOL=oha|wrk)
# See backend/benches/load.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-"16 64"}
WARMUP=${WARMUP:-3}
RATE=${RATE:-5000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [[ -z "${TOOL:-}" ]]; then
  if command -v oha >/dev/null; then TOOL=oha
  elif command -v wrk >/dev/null; then TOOL=wrk
  else
    echo "load.sh: neither oha nor wrk found: cargo install oha, or apt-get install wrk" >&2
    exit 2
  fi
fi

echo "building the release backend (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)" >&2
cargo build --quiet --release -p consoledx --bin consoledx --manifest-path "$ROOT/Cargo.toml"
BIN="$CARGO_TARGET_DIR/release/consoledx"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Seed example 1 (deleting a non-empty bucket) as the extension sends it.
cat >"$WORK/body.json" <<'JSON'
{"context":{"message":"Failed to delete bucket my-bucket-123456. This bucket is not empty. Buckets must be empty before they can be deleted. To delete all objects in the bucket, use the empty bucket configuration.","url":"https://s3.console.aws.amazon.com/s3/bucket/my-bucket-123456/delete?region=us-west-2","identity":{"kind":"role","name":"Admin","session":"alice","accountId":"123456789012"},"identifiers":{"aws_account_id":"123456789012","aws_partition":"aws","aws_region":"us-west-2","aws_service":"s3","iam_role_name":"Admin","s3_bucket_name":"my-bucket-123456"},"error_code":"BucketNotEmpty","redactions":0}}
JSON

RUST_LOG=warn "$BIN" serve --addr 127.0.0.1:0 --data-dir "$WORK/data" >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!
URL=
for _ in $(seq 1 200); do
  URL=$(sed -n 's/^consoledx listening on \(http:[^ ]*\)$/\1/p' "$WORK/stdout")
  [[ -n "$URL" ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/stderr" >&2; exit 1; }
  sleep 0.05
done
[[ -n "$URL" ]] || { echo "load.sh: the backend did not start" >&2; exit 1; }
TARGET="$URL/v1/analyze"
curl -sf -H 'content-type: application/json' --data-binary @"$WORK/body.json" "$TARGET" \
  | grep -q '"rule":"s3.bucket_not_empty"' || { echo "load.sh: unexpected analysis" >&2; exit 1; }

cat >"$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/body.json", "r"); wrk.body = f:read("*a"); f:close()
LUA

# Prints "<requests/s> <p50 ms> <p99 ms> <errors>" for one run; a third argument holds that rate (oha only).
run() {
  local concurrency=$1 seconds=$2 rate=${3:-}
  case "$TOOL" in
    oha)
      local limit=()
      [[ -n "$rate" ]] && limit=(-q "$rate" --latency-correction)
      oha --no-tui --output-format json -z "${seconds}s" -c "$concurrency" "${limit[@]}" -m POST \
        -H 'content-type: application/json' -D "$WORK/body.json" "$TARGET" >"$WORK/oha.json"
      python3 - "$WORK/oha.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pct = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
# Requests cut off when the run's time is up are not failures.
errors = {k: n for k, n in r.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
bad = sum(n for code, n in codes.items() if not code.startswith("2")) + sum(errors.values())
print(f'{r["summary"]["requestsPerSec"]:.0f} {pct["p50"]*1000:.2f} {pct["p99"]*1000:.2f} {bad}')
PY
      ;;
    wrk)
      wrk -t 2 -c "$concurrency" -d "${seconds}s" --latency -s "$WORK/post.lua" "$TARGET" >"$WORK/wrk.txt"
      awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
        /Requests\/sec/ { rps = $2 } /Non-2xx/ { bad = $NF }
        END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }' "$WORK/wrk.txt"
      ;;
  esac
}

echo "tool: $TOOL; $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run 16 "$WARMUP" >/dev/null
printf '%-20s %12s %9s %9s %8s\n' connections requests/s "p50 ms" "p99 ms" errors
for c in $CONCURRENCY; do
  read -r rps p50 p99 bad < <(run "$c" "$DURATION")
  printf '%-20s %12s %9s %9s %8s\n' "$c (max rate)" "$rps" "$p50" "$p99" "$bad"
done
if [[ "$TOOL" == oha && "$RATE" != 0 ]]; then
  read -r rps p50 p99 bad < <(run 64 "$DURATION" "$RATE")
  printf '%-20s %12s %9s %9s %8s\n' "64 (at $RATE/s)" "$rps" "$p50" "$p99" "$bad"
fi
rows=$("$BIN" --version >/dev/null; python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from diagnoses').fetchone()[0])" "$WORK/data/consoledx.sqlite3" 2>/dev/null || echo "?")
echo "diagnoses stored: $rows"
