#!/usr/bin/env bash
# `make demo`: the whole loop on a freshly baked default project, as a newcomer would run it:
# install, train (tracked and registered), evaluate, export to ONNX, serve in the background,
# one prediction, a 10 s load test with its gates, then stop the service and say where to
# look. The generated test suite is `make test`'s job, not the demo's.
# Usage: scripts/demo.sh PROJECT_DIR [INSTALLER]
set -euo pipefail
project=$1
installer=${2:-uv}
cd "$project"

started=$SECONDS
step() { printf '\n\033[1;36m==> [%3ds] %s\033[0m\n' "$((SECONDS - started))" "$*"; }

step "Install (make install INSTALLER=$installer)"
make install INSTALLER="$installer"
step "Train, evaluate, export (make train evaluate export-onnx)"
make train evaluate export-onnx

port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
step "Serve on $url in the background (make serve; log in reports/serve.log)"
mkdir -p reports
# A session of its own, so that stopping it stops make and uvicorn together.
setsid make serve HOST=127.0.0.1 PORT="$port" > reports/serve.log 2>&1 &
server=$!
stop() { kill -TERM -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 120); do
    if .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$url/ready', timeout=2)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "The service stopped: see reports/serve.log" >&2
        cat reports/serve.log >&2
        exit 1
    fi
    sleep 0.5
done

step "Predict the model's example row (make predict)"
make predict PORT="$port"
step "Load test: 10 s, 8 users, gates on errors and p95 (make loadtest)"
make loadtest PORT="$port" USERS=8 DURATION=10s
step "Stop the service"
stop
trap - EXIT

cat <<MSG

The whole loop took $((SECONDS - started)) s (install included).

Where to look next, in $project:
  make mlflow-ui               runs, metrics and the model registry: http://127.0.0.1:5000
  make serve                   then the Swagger page: http://127.0.0.1:8000/docs
  reports/metrics.json         test metrics; plots in reports/figures/
  reports/export.json          ONNX parity and int8 figures
  reports/loadtest.html        the load-test report (reports/loadtest_stats.csv)
  make monitor                 drift report of the requests just logged (logs/predictions/)
  make test                    the project's own test suite
  README.md                    "Use your own data": from your CSV to a served prediction
MSG
