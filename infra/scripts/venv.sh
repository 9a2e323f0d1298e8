#!/usr/bin/env bash
# Creates <repo>/.venv (or $VENV) with the Python tools the tests use: moto's server
# (DynamoDB + KMS emulator), boto3, AWS SAM CLI and cfn-lint. Idempotent: a stamp file holds
# the hash of the requirement list and the interpreter version, and the install is skipped
# while it matches. All four go in ONE pip call because moto and SAM CLI pin different
# botocore ranges; installing them separately lets the second silently downgrade the first.
# Progress goes to stderr; prints the venv path on its last line.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
python="${PYTHON:-python3}"

requirements=(
  'moto[server]==5.*'
  'boto3'
  'aws-sam-cli>=1.170'
  'cfn-lint'
)

stamp="$venv/.requirements.sha256"
want="$({ "$python" --version 2>&1; printf '%s\n' "${requirements[@]}"; } | sha256sum | cut -d' ' -f1)"

tools_present() {
  [[ -x "$venv/bin/moto_server" && -x "$venv/bin/sam" && -x "$venv/bin/cfn-lint" ]]
}

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && tools_present; then
  echo "venv: $venv up to date" >&2
  echo "$venv"
  exit 0
fi

start=$SECONDS
if [[ ! -x "$venv/bin/python" ]]; then
  echo "venv: creating $venv" >&2
  "$python" -m venv "$venv" >&2
fi
rm -f "$stamp"
echo "venv: installing ${requirements[*]}" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}" >&2
# The pins above must resolve to one consistent set; a broken set fails here, not mid-test.
"$venv/bin/python" -m pip check >&2
tools_present || { echo "venv: install finished but a tool is missing" >&2; exit 1; }
echo "$want" > "$stamp"
echo "venv: ready in $((SECONDS - start)) s" >&2
echo "$venv"
