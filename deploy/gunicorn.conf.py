"""Gunicorn settings for the clinic, read from the environment (see deploy/clinic.env.example).

    gunicorn -c deploy/gunicorn.conf.py

Every value has a default that suits one small host behind a reverse proxy on the same machine.
Access and error logs are one JSON object per line, with the request id that
clinic.middleware puts on each response, so they join up with the application's own log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from gunicorn.glogging import Logger

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # clinic.logs below, before gunicorn's own chdir

from clinic.logs import JsonFormatter  # noqa: E402 - needs ROOT on sys.path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


wsgi_app = "clinic.wsgi:application"
chdir = str(ROOT)
proc_name = os.environ.get("GUNICORN_NAME", "clinic-web")

# Where to listen: the reverse proxy on this host talks to 127.0.0.1:8000. Comma-separated.
bind = _env_list("GUNICORN_BIND", "127.0.0.1:8000")
# Processes, and threads in each (more than 1 thread selects the gthread worker). A request
# spends a good part of its time waiting on PostgreSQL, so there are more processes than cores:
# on a 2-core machine 8 processes x 1 thread measured best (docs/performance.md, "Load test").
workers = _env_int("GUNICORN_WORKERS", 4 * (os.cpu_count() or 1))
threads = _env_int("GUNICORN_THREADS", 1)
# A worker silent for `timeout` seconds is killed and replaced; on SIGTERM, workers get
# `graceful_timeout` seconds to finish the requests they have.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)
# Recycle a worker after this many requests (with jitter, so they do not all restart at once).
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Not preloaded: each worker imports the app after the fork, so database pools and broker
# connections are opened in the process that uses them, and `systemctl reload` loads new code.
preload_app = False
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, gunicorn's advice
# The proxy that may set X-Forwarded-Proto/For (Django trusts X-Forwarded-Proto: settings.py).
forwarded_allow_ips = ",".join(_env_list("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1"))
# Gunicorn's control socket (gunicornc) is off unless asked for: systemd manages the process,
# and two instances on one host would otherwise share its default path.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
if _control_socket:
    control_socket = _control_socket
else:
    control_socket_disable = True

# "-" = stdout (access) / stderr (errors): journald under systemd. A path writes to a file.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


class JsonLogger(Logger):
    """Gunicorn's logger with one JSON object per line for the access and error logs."""

    def setup(self, cfg):  # noqa: ANN001 - gunicorn's signature
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(logging.Formatter("%(message)s"))

    def access(self, resp, req, environ, request_time):  # noqa: ANN001 - gunicorn's signature
        if not self.access_log_enabled:
            return
        try:
            self.access_log.info(access_line(self.atoms(resp, req, environ, request_time), request_time))
        except Exception:  # a log line must never fail a request
            self.exception("access log line failed")


def access_line(atoms: dict, request_time) -> str:  # noqa: ANN001 - a datetime.timedelta
    """One access-log line as JSON, from gunicorn's atoms (request/response headers included).

    The query string is left out on purpose: a patient search (?q=name, phone or date of birth)
    would otherwise put patient data into every log that keeps access lines.
    """
    status = atoms.get("s")
    entry = {
        "ts": datetime.now(tz=UTC).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": "gunicorn.access",
        "request_id": atoms.get("{x-request-id}o", "-"),
        "remote": atoms.get("h"),
        "forwarded_for": atoms.get("{x-forwarded-for}i"),
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "status": int(status) if str(status).isdigit() else status,
        "bytes": atoms.get("B"),
        "duration_ms": round(request_time.total_seconds() * 1000, 2),
        "user_agent": atoms.get("a"),
        "pid": os.getpid(),
    }
    return json.dumps({key: value for key, value in entry.items() if value is not None}, default=str)


logger_class = JsonLogger
