#!/usr/bin/env bash
# Serve the app on http://127.0.0.1:8000 with a Celery worker and beat beside it.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p var/log
trap 'kill -- -$$ 2>/dev/null; exit 0' INT TERM
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
$BIN/celery -A clinic worker --beat --concurrency=1 --loglevel=INFO >var/log/celery.log 2>&1 &
echo "Celery worker and beat started (log: var/log/celery.log)"
$BIN/python manage.py runserver 127.0.0.1:8000
