#!/usr/bin/env bash
# Measures one store's history import with the worker in its own process: the Salla API stub
# and the strict Klaviyo stub run as separate processes, the worker
# (functions/history-worker/examples/import_against.rs) under /usr/bin/time -v, so its peak
# RSS and wall time are the worker's alone.
#
#   history-measure.sh [--orders N] [--customers N] [--products N] [--release]
#                      [--rate-limits fast|plus] [--budget-secs S]
#
# Defaults: 10,000 orders, 60 customers, 5 products, debug build, the Salla stub's Plus budget
# 60x faster (120 requests per second per store), 290 s per invocation. Prints the worker's
# JSON summary, its peak RSS and both stubs' summaries (the Klaviyo stub's lists violations).
set -euo pipefail

orders=10000 customers=60 products=5 profile=debug rate=fast budget=290
while [[ $# -gt 0 ]]; do
  case "$1" in
    --orders) orders="$2"; shift 2 ;;
    --customers) customers="$2"; shift 2 ;;
    --products) products="$2"; shift 2 ;;
    --release) profile=release; shift ;;
    --rate-limits) rate="$2"; shift 2 ;;
    --budget-secs) budget="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) echo "history-measure: unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/../.."
flags=()
[[ "$profile" == release ]] && flags=(--release)
cargo build -q "${flags[@]}" -p salla-api-stub -p klaviyo-stub
cargo build -q "${flags[@]}" -p history-worker --example import_against
bin="target/$profile"

work="$(mktemp -d)"
salla_pid="" klaviyo_pid=""
cleanup() {
  # Only the two stubs this script started, by their ids.
  for pid in $salla_pid $klaviyo_pid; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/salla-api-stub" --port 0 --store 1 --token stub-token --orders "$orders" \
  --customers "$customers" --products "$products" --rate-limits "$rate" --ignore-stdin \
  >"$work/salla.out" 2>"$work/salla.err" &
salla_pid=$!
"$bin/klaviyo-stub" --port 0 --accept-any-key --ignore-stdin \
  >"$work/klaviyo.out" 2>"$work/klaviyo.err" &
klaviyo_pid=$!

url_of() {
  for _ in $(seq 1 100); do
    if grep -q 'listening on' "$1"; then grep -o 'http://[0-9.:]*' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "history-measure: a stub did not start ($1)" >&2
  exit 1
}
salla_url="$(url_of "$work/salla.out")"
klaviyo_url="$(url_of "$work/klaviyo.out")"

SALLA_API_URL="$salla_url" KLAVIYO_API_URL="$klaviyo_url" HISTORY_BUDGET_SECS="$budget" \
  /usr/bin/time -v "$bin/examples/import_against" >"$work/worker.out" 2>"$work/worker.time"
echo "worker ($profile): $(cat "$work/worker.out")"
grep -E 'Maximum resident set size|Elapsed \(wall clock\)|User time|System time' "$work/worker.time" | sed 's/^\s*/  /'
for pid in $salla_pid $klaviyo_pid; do kill -INT "$pid" 2>/dev/null || true; done
wait "$salla_pid" "$klaviyo_pid" 2>/dev/null || true
salla_pid="" klaviyo_pid=""
echo "salla stub: $(grep -v 'listening on' "$work/salla.out" | tail -1)"
echo "klaviyo stub: $(grep -v 'listening on' "$work/klaviyo.out" | tail -1)"
