#!/usr/bin/env bash
# Flash sale: one store at 1,000 orders/minute for 5 minutes (order.created plus the webhooks
# around each order) against a Klaviyo stub that enforces Klaviyo's per-account rate limits
# (events 350/s burst, 3,500/min steady; 429 + Retry-After), with Salla's delivery contract
# simulated: no 200/201 within 30 s → redelivered up to 3 times, 5 minutes apart.
# A real-time run takes up to ~21 minutes (the sale plus three redelivery rounds).
# Extra arguments go to the load tool, e.g.
#   infra/scripts/flash-sale.sh --json target/flash-sale.json
#   infra/scripts/flash-sale.sh --orders-per-minute 2000 --sale-secs 120
# Exit status: 0 when every event reached Klaviyo exactly once, no answer took 30 s or more,
# no webhook was abandoned and the stub saw no spec violation; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p dev-server --bin dev-server -p klaviyo-stub --bin klaviyo-stub -p load --bin load
exec "$CARGO_TARGET_DIR/release/load" --bin-dir "$CARGO_TARGET_DIR/release" --flash-sale "$@"
