#!/usr/bin/env bash
# A store's live webhook latency while its history import runs, against the same store idle:
# the Salla API stub (the store's orders, Salla's per-store budget 60x faster), the Klaviyo
# stub and the dev server run as separate processes; the dev server imports the store by
# itself once it is connected (its in-process history runner), and the load tool
# (`load --url`) connects the store and drives its webhooks. The live path's product lookups
# go to the same Salla stub, so they share the store's budget with the import.
#
#   history-live-p99.sh [--orders N] [--rate N] [--secs S] [--release]
#
# Defaults: 10,000 orders, 10 webhooks per second for 30 s in each phase, debug build.
# Phase 1 runs while the import runs (checked: the import is still running at its end);
# phase 2 once the import has finished. Prints each phase's latency summary.
set -euo pipefail

orders=10000 rate=10 secs=30 profile=debug
while [[ $# -gt 0 ]]; do
  case "$1" in
    --orders) orders="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    --release) profile=release; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) echo "history-live-p99: unknown option $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/../.."
flags=()
[[ "$profile" == release ]] && flags=(--release)
cargo build -q "${flags[@]}" -p salla-api-stub -p klaviyo-stub -p dev-server -p load
bin="target/$profile"

work="$(mktemp -d)"
pids=()
cleanup() {
  # Only the processes this script started, by their ids.
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT

# The load tool's first store and the access token its app.store.authorize carries.
store=1700000000
secret="history-p99-$RANDOM$RANDOM"
stub_latency=20
"$bin/salla-api-stub" --port 0 --store "$store" --token load-access-token --orders "$orders" \
  --customers 60 --products 5 --rate-limits fast --ignore-stdin >"$work/salla.out" 2>&1 &
pids+=($!)
"$bin/klaviyo-stub" --port 0 --accept-any-key --latency-ms "$stub_latency" --ignore-stdin \
  >"$work/klaviyo.out" 2>&1 &
pids+=($!)

url_of() {
  for _ in $(seq 1 100); do
    if grep -q 'listening on' "$1"; then grep -o 'http://[0-9.:]*' "$1" | head -1; return; fi
    sleep 0.1
  done
  echo "history-live-p99: a stub did not start ($1)" >&2
  exit 1
}
salla_url="$(url_of "$work/salla.out")"
klaviyo_url="$(url_of "$work/klaviyo.out")"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PORT="$port" KLAVIYO_API_URL="$klaviyo_url" SALLA_API_URL="$salla_url" \
  SALLA_ACCOUNTS_URL=http://127.0.0.1:9 SALLA_WEBHOOK_SECRET="$secret" KEY_STORE=embedded \
  DATA_DIR="$work/data" "$bin/dev-server" >"$work/dev-server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  sleep 0.1
done

# Install the app for the store (its Salla tokens), as `app.store.authorize` does; the load
# tool's first phase then connects its Klaviyo key, and the dev server starts the import
# within its watcher's 5 s.
python3 - "$secret" "$store" "http://127.0.0.1:$port/webhook" <<'PY'
import hashlib, hmac, json, sys, time, urllib.request
secret, store, url = sys.argv[1], sys.argv[2], sys.argv[3]
body = json.dumps({
    "event": "app.store.authorize", "merchant": int(store), "created_at": int(time.time()),
    "data": {"access_token": "load-access-token", "refresh_token": "load-refresh-token",
             "expires": 4102444800, "scope": "settings.read offline_access", "token_type": "bearer"},
}).encode()
sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
req = urllib.request.Request(url, data=body, headers={
    "content-type": "application/json", "x-salla-security-strategy": "Signature",
    "x-salla-signature": sig})
answer = urllib.request.urlopen(req).read().decode()
if "salla_tokens_stored" not in answer:
    sys.exit(f"history-live-p99: installing the store failed: {answer}")
PY

import_done() { grep -q '"event":"history_run".*"outcome":"done"' "$work/dev-server.log"; }

phase() {
  "$bin/load" --url "http://127.0.0.1:$port" --stores 1 --rate "$rate" --duration "$secs" \
    --secret "$secret" --stub-latency-ms "$stub_latency" --json "$work/$1.json" \
    >/dev/null 2>"$work/$1.err" || true
  python3 - "$work/$1.json" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
l, a = s.get("latency_ms", {}), s.get("added_latency_ms", {})
print(f"{sys.argv[2]}: {s.get('webhooks', s.get('sent', '?'))} webhooks; latency ms p50 {l.get('p50')} p99 {l.get('p99')} max {l.get('max')}; added over the Klaviyo stub p50 {a.get('p50')} p99 {a.get('p99')}")
PY
}

started=$(date +%s)
phase during_import
if import_done; then
  echo "history-live-p99: the import finished before the phase ended: use more --orders" >&2
fi
for _ in $(seq 1 1200); do import_done && break; sleep 1; done
echo "import finished after $(( $(date +%s) - started )) s"
phase idle
echo "salla stub: $(kill -INT "${pids[0]}"; sleep 1; grep -v 'listening on' "$work/salla.out" | tail -1)"
