#!/usr/bin/env bash
# Offline checks of template.yaml: `sam validate --lint` and `cfn-lint`.
# Needs no AWS account, credentials or network: both run against a throw-away HOME with
# every AWS_* credential variable removed, so an operator's profile can't leak in.
#
# Tools come from <repo>/.venv (infra/scripts/venv.sh creates it) or from $VENV if set.
# Exit status: 0 when both pass, 1 otherwise.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
template="${TEMPLATE:-$repo/template.yaml}"

have_tools() { [[ -x "$venv/bin/sam" && -x "$venv/bin/cfn-lint" ]]; }

if ! have_tools && [[ -z "${VENV:-}" && -f "$repo/infra/scripts/venv.sh" ]]; then
  bash "$repo/infra/scripts/venv.sh"
fi
if ! have_tools; then
  echo "sam-check: $venv has no sam/cfn-lint; run infra/scripts/venv.sh (or set VENV)" >&2
  exit 1
fi

scratch_home="$(mktemp -d)"
trap 'rm -rf "$scratch_home"' EXIT

offline() {
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
      -u AWS_ENDPOINT_URL -u AWS_CONFIG_FILE -u AWS_SHARED_CREDENTIALS_FILE \
      HOME="$scratch_home" AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
      SAM_CLI_TELEMETRY=0 "$@"
}

passed=0
failed=0
run() {
  local name="$1"; shift
  if (cd "$(dirname "$template")" && offline "$@"); then
    echo "sam-check: $name ok"
    passed=$((passed + 1))
  else
    echo "sam-check: $name FAILED" >&2
    failed=$((failed + 1))
  fi
}

run "sam validate --lint" "$venv/bin/sam" validate --lint --template-file "$template"
run "cfn-lint" "$venv/bin/cfn-lint" -- "$template"

echo "sam-check: $passed passed, $failed failed"
[[ "$failed" -eq 0 ]]
