#!/usr/bin/env bash
# Prints the Validation URL to enter in the Salla Partner Portal (App Settings → Validation
# URL) for a deployed stack: the stack's OnboardingUrl output followed by `validate/<token>`,
# where the token is base64url (no padding) of HMAC-SHA256(session_secret,
# "salla-validation-url"), its first 22 characters. The onboarding function derives the same
# and answers any other token with 404.
#
#   infra/scripts/validation-url.sh <stack-name>
#       reads OnboardingUrl and the SecretsName parameter from the stack, and session_secret
#       from that Secrets Manager secret (the AWS CLI's usual region/profile settings apply).
#   infra/scripts/validation-url.sh --derive <onboarding-url>   (session secret on stdin)
#       the derivation alone, without AWS.
#
# The URL is as good as a password: paste it into the Portal, do not share or log it. Rotating
# session_secret changes it. The key reaches openssl as a command-line argument (openssl
# takes no HMAC key from a file): run this on your own machine, not a shared host.
# Needs aws (not with --derive), jq and openssl.
set -euo pipefail

usage() {
  echo "usage: validation-url.sh <stack-name> | --derive <onboarding-url> < secret" >&2
  exit 2
}

# validation_url <onboarding-url> <secret>
validation_url() {
  local base="$1" secret="$2" hexkey token
  [[ -n "$secret" ]] || { echo "validation-url: empty session secret" >&2; exit 1; }
  hexkey="$(printf %s "$secret" | od -An -v -tx1 | tr -d ' \n')"
  token="$(printf %s salla-validation-url \
    | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary \
    | openssl base64 -A | tr '+/' '-_' | tr -d '=' | cut -c1-22)"
  [[ ${#token} -eq 22 ]] || { echo "validation-url: openssl gave no HMAC" >&2; exit 1; }
  printf '%s/validate/%s\n' "${base%/}" "$token"
}

[[ $# -ge 1 ]] || usage
if [[ "$1" == "--derive" ]]; then
  [[ $# -eq 2 ]] || usage
  secret="$(cat)"
  validation_url "$2" "$secret"
  exit 0
fi
[[ $# -eq 1 ]] || usage
stack="$1"

onboarding="$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Outputs[?OutputKey=='OnboardingUrl'].OutputValue" --output text)"
secrets_name="$(aws cloudformation describe-stacks --stack-name "$stack" \
  --query "Stacks[0].Parameters[?ParameterKey=='SecretsName'].ParameterValue" --output text)"
if [[ -z "$onboarding" || "$onboarding" == "None" || -z "$secrets_name" || "$secrets_name" == "None" ]]; then
  echo "validation-url: stack $stack has no OnboardingUrl output or SecretsName parameter" >&2
  exit 1
fi
secret="$(aws secretsmanager get-secret-value --secret-id "$secrets_name" \
  --query SecretString --output text | jq -r '.session_secret // empty')"
validation_url "$onboarding" "$secret"
