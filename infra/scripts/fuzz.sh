#!/usr/bin/env bash
# Feeds ≥ 1,000,000 generated inputs (random bytes; samples truncated at every length, with
# flipped bytes, swapped types, invalid UTF-8; 10,000-level nesting; huge strings and arrays)
# through signature checking, envelope parsing and mapping, and fails on any panic.
#   infra/scripts/fuzz.sh                      # 1,000,000 inputs, all cores
#   infra/scripts/fuzz.sh --inputs 5000000 --seed 42 --json target/fuzz.json
# The workspace's release profile aborts on panic; this build unwinds instead so each panic
# is caught, counted and its input kept under target/fuzz-failures/. LTO is off: the build is
# several times quicker and the checker's throughput barely changes.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
CARGO_PROFILE_RELEASE_PANIC=unwind CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  cargo build --release -q -p fuzz --bin fuzz
exec env CARGO_PROFILE_RELEASE_PANIC=unwind "$CARGO_TARGET_DIR/release/fuzz" "$@"
