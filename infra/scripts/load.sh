#!/usr/bin/env bash
# Builds the release binaries (dev server, Klaviyo stub, load tool) and runs the load tool with
# the issue's targets: 50 stores × 200 webhooks/s × 60 s against a stub answering in 20 ms.
# Extra arguments go to the tool, e.g.
#   infra/scripts/load.sh --stub-latency-ms 0 --duration 20
#   infra/scripts/load.sh --json target/load.json
#   infra/scripts/load.sh --stores 20 --rate 100 --duration 30 --flood-validate 300
#   MOTO_URL="$(infra/scripts/moto.sh start)" infra/scripts/load.sh --key-store dynamodb --duration 30
# (--flood-validate N also sends N unsigned Validation URL requests/s during the run.)
# Exit status: 0 when every webhook got 200 and no event was lost; 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p dev-server --bin dev-server -p klaviyo-stub --bin klaviyo-stub -p load --bin load
exec "$CARGO_TARGET_DIR/release/load" --bin-dir "$CARGO_TARGET_DIR/release" "$@"
