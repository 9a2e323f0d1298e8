#!/usr/bin/env bash
# Builds the three Lambda functions the way `sam build` does for a deploy and prints each
# function's zipped bootstrap size; fails if any is over the limit (default 5 MiB).
#
# Not part of the default test run: a cold build compiles the AWS SDK for aarch64 and takes
# ~7-10 min on 2 cores (cargo-lambda cross-compiles with zig; no Docker needed).
#
#   infra/scripts/sam-build-size.sh              # sam build, then measure
#   infra/scripts/sam-build-size.sh --no-build   # measure an existing build dir
#
# Env: VENV (default <repo>/.venv), BUILD_DIR (default <repo>/.aws-sam/build),
#      CARGO_TARGET_DIR (default <repo>/target-lambda), MAX_ZIP_BYTES (default 5242880).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
build_dir="${BUILD_DIR:-$repo/.aws-sam/build}"
max_bytes="${MAX_ZIP_BYTES:-5242880}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target-lambda}"
functions=(WebhookIntakeFunction KeyOnboardingFunction OAuthCallbackFunction)

if [[ ! -x "$venv/bin/sam" ]]; then
  echo "sam-build-size: $venv has no sam; run infra/scripts/venv.sh (or set VENV)" >&2
  exit 1
fi
export PATH="$venv/bin:$PATH"

if [[ "${1:-}" != "--no-build" ]]; then
  # sam's rust-cargolambda workflow shells out to `cargo lambda`.
  if ! cargo lambda --version >/dev/null 2>&1; then
    "$venv/bin/pip" install --quiet 'cargo-lambda>=1.9'
  fi
  start=$(date +%s)
  (cd "$repo" && AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
    sam build --template-file template.yaml --build-dir "$build_dir")
  echo "sam-build-size: build took $(( $(date +%s) - start )) s"
fi

over=0
for fn in "${functions[@]}"; do
  bootstrap="$build_dir/$fn/bootstrap"
  if [[ ! -f "$bootstrap" ]]; then
    echo "sam-build-size: $bootstrap missing" >&2
    over=1
    continue
  fi
  # Deflate like the deployment package sam uploads; also report size and ELF machine.
  read -r raw zipped machine < <("$venv/bin/python" - "$bootstrap" <<'PY'
import io, os, sys, zipfile
path = sys.argv[1]
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(path, "bootstrap")
with open(path, "rb") as f:
    head = f.read(20)
machine = {183: "aarch64", 62: "x86_64"}.get(int.from_bytes(head[18:20], "little"), "unknown")
print(os.path.getsize(path), len(buf.getvalue()), machine)
PY
)
  printf 'sam-build-size: %-24s bootstrap %8d bytes (%.2f MiB), zipped %8d bytes (%.2f MiB), %s\n' \
    "$fn" "$raw" "$(( raw * 100 / 1048576 ))e-2" "$zipped" "$(( zipped * 100 / 1048576 ))e-2" "$machine"
  if [[ "$machine" != aarch64 ]]; then
    echo "sam-build-size: $fn bootstrap is $machine, the template says arm64" >&2
    over=1
  fi
  if (( zipped > max_bytes )); then
    echo "sam-build-size: $fn zipped size $zipped > $max_bytes bytes" >&2
    over=1
  fi
done
exit "$over"
