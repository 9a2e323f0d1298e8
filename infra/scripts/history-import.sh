#!/usr/bin/env bash
# Queues a history import for one store: the same message connecting a store sends (its id
# and the import's first cursor, nothing else). The worker then re-imports the store's whole
# history, or resumes the running import from its saved cursor if one is running; Klaviyo
# keeps one of each event by unique_id, so a re-run adds nothing twice. The merchant page's
# "run the import again" sends this same message after claiming a new import in the store's
# record (refused while an import runs and saved within the last hour; a stalled one starts
# over: adapters::history::start::rerun_allowed); this script, without the key store, leaves
# a running import to resume from its cursor.
#
#   history-import.sh --stack NAME STORE_ID      queue URL from the stack's HistoryQueue
#   history-import.sh --queue-url URL STORE_ID   queue URL given
#   history-import.sh --print STORE_ID           print the message body only
#
# Uses the AWS CLI with the caller's credentials and region (AWS_ENDPOINT_URL points it at
# moto locally). Needs sqs:SendMessage on the history queue (and
# cloudformation:DescribeStackResource with --stack).
set -euo pipefail

usage() {
  sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

stack="" queue_url="" print_only=0 store_id=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stack) stack="${2:-}"; shift 2 ;;
    --queue-url) queue_url="${2:-}"; shift 2 ;;
    --print) print_only=1; shift ;;
    -h|--help) usage ;;
    -*) echo "history-import: unknown option $1" >&2; usage ;;
    *) [[ -z "$store_id" ]] || usage; store_id="$1"; shift ;;
  esac
done

# The worker's rule for a store id (adapters::history::valid_store_id): 1-64 ASCII letters,
# digits, '-' or '_'. Anything else would be dropped by the worker, so refuse it here.
if [[ ! "$store_id" =~ ^[A-Za-z0-9_-]{1,64}$ ]]; then
  echo "history-import: STORE_ID must be 1-64 letters, digits, '-' or '_'" >&2
  exit 2
fi

body="{\"v\":1,\"store_id\":\"$store_id\",\"job\":\"import\",\"cursor\":{\"phase\":\"products\",\"page\":1}}"
if [[ "$print_only" == 1 ]]; then
  echo "$body"
  exit 0
fi

# AWS CLI v1 ignores AWS_ENDPOINT_URL; pass it explicitly.
endpoint=()
[[ -n "${AWS_ENDPOINT_URL:-}" ]] && endpoint=(--endpoint-url "$AWS_ENDPOINT_URL")

if [[ -z "$queue_url" ]]; then
  [[ -n "$stack" ]] || { echo "history-import: give --stack or --queue-url" >&2; exit 2; }
  queue_url="$(aws "${endpoint[@]}" cloudformation describe-stack-resource --stack-name "$stack" \
    --logical-resource-id HistoryQueue \
    --query 'StackResourceDetail.PhysicalResourceId' --output text)"
fi

message_id="$(aws "${endpoint[@]}" sqs send-message --queue-url "$queue_url" --message-body "$body" \
  --query MessageId --output text)"
echo "history-import: queued the import of store $store_id (message $message_id)" >&2
