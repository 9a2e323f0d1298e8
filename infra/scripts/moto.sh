#!/usr/bin/env bash
# Runs moto's server (DynamoDB + KMS emulator) on a free loopback port for the tests.
#   moto.sh start   starts it (or reuses a running one), waits until it answers, prints its URL
#   moto.sh stop    stops the one started here, by PID
#   moto.sh url     prints the URL of the running one (exit 1 if none)
# State: <repo>/target/.moto.pid and .moto.port (override the folder with MOTO_STATE_DIR);
# the server log is <state dir>/moto.log. Only the URL goes to stdout, so callers can do
#   MOTO_URL="$(infra/scripts/moto.sh start)"
# Needs <repo>/.venv (or $VENV) from infra/scripts/venv.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${VENV:-$repo/.venv}"
state="${MOTO_STATE_DIR:-$repo/target}"
pid_file="$state/.moto.pid"
port_file="$state/.moto.port"
log_file="$state/moto.log"
ready_timeout_s=20

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid="$(cat "$pid_file")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

url() { echo "http://127.0.0.1:$(cat "$port_file")"; }

answers() {
  "$venv/bin/python" - "$1/moto-api/" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=1).read()
PY
}

free_port() {
  "$venv/bin/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

start_once() {
  local port pid deadline
  port="$(free_port)"
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$log_file" 2>&1 &
  pid=$!
  echo "$pid" >"$pid_file"
  echo "$port" >"$port_file"
  deadline=$((SECONDS + ready_timeout_s))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto: server exited during start-up (port $port); see $log_file" >&2
      rm -f "$pid_file" "$port_file"
      return 1
    fi
    if answers "http://127.0.0.1:$port"; then
      return 0
    fi
    sleep 0.2
  done
  echo "moto: no answer from port $port within ${ready_timeout_s}s; see $log_file" >&2
  kill "$pid" 2>/dev/null || true
  rm -f "$pid_file" "$port_file"
  return 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    echo "moto: stopped (pid $pid)" >&2
  else
    echo "moto: not running" >&2
  fi
  rm -f "$pid_file" "$port_file"
}

case "${1:-}" in
  start)
    [[ -x "$venv/bin/moto_server" ]] || {
      echo "moto: $venv has no moto_server; run infra/scripts/venv.sh" >&2
      exit 1
    }
    mkdir -p "$state"
    if running_pid >/dev/null && answers "$(url)"; then
      echo "moto: already running (pid $(cat "$pid_file"))" >&2
      url
      exit 0
    fi
    rm -f "$pid_file" "$port_file"
    # A free port can be taken between the probe and moto's bind: try a few times.
    for attempt in 1 2 3; do
      if start_once; then
        echo "moto: running (pid $(cat "$pid_file"), attempt $attempt)" >&2
        url
        exit 0
      fi
    done
    exit 1
    ;;
  stop) stop ;;
  url)
    if running_pid >/dev/null; then url; else
      echo "moto: not running" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
