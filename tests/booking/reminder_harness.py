"""What the reminder kill test and `make bench` run against: a fake SMS gateway on loopback, a
real Celery worker process, and a Redis broker on loopback.

Nothing here is imported by the application.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]


class FakeSmsGateway:
    """A JSON SMS gateway on 127.0.0.1 that records every call and dedups deliveries by key.

    `latency` (seconds, min and max) is how long the gateway takes before it accepts a message,
    like a real one over a network. A caller that hangs up during that time (a killed worker)
    gets no delivery: the call counts in `abandoned` (and in `raw_calls`), not in `calls`.
    `fail_with` makes it answer that status instead (to test retries).
    """

    def __init__(self, latency: tuple[float, float] = (0.0, 0.0), seed: int = 0, port: int = 0) -> None:
        self.latency = latency
        self.fail_with: int | None = None
        self.calls: list[dict[str, Any]] = []  # every accepted call, repeats included
        self.deliveries: dict[str, dict[str, Any]] = {}  # first call per idempotency key
        self.abandoned = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - test timing, not crypto
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a worker sends many messages in a row
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def setup(self) -> None:
                super().setup()
                with gateway._lock:
                    gateway._open.add(self.connection)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                header_key = self.headers.get("Idempotency-Key", "")
                status = gateway.fail_with
                if status is None:
                    low, high = gateway.latency
                    if high:
                        with gateway._lock:
                            pause = gateway._rng.uniform(low, high)
                        time.sleep(pause)
                    if gateway._caller_gone(self.connection):
                        with gateway._lock:
                            gateway.abandoned += 1
                        self.close_connection = True
                        return
                    with gateway._lock:
                        call = {"key": payload.get("idempotency_key"), "header_key": header_key, **payload}
                        gateway.calls.append(call)
                        gateway.deliveries.setdefault(call["key"], call)
                        number = len(gateway.calls)
                    body = json.dumps({"id": f"gw-{number}", "status": "accepted"}).encode()
                    status = 200
                else:
                    body = json.dumps({"error": "try later"}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                body = json.dumps(gateway.stats()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed caller resets its connection
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-sms-gateway", daemon=True)

    @staticmethod
    def _caller_gone(sock: socket.socket) -> bool:
        """True if the caller closed its end (a killed process's socket is closed by the kernel)."""
        try:
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def __enter__(self) -> FakeSmsGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self._lock:  # kept-alive connections too, as a gateway going away would
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @property
    def accepted_calls(self) -> int:
        with self._lock:
            return len(self.calls)

    @property
    def raw_calls(self) -> int:
        """Every call that reached the gateway, accepted or abandoned by its caller."""
        with self._lock:
            return len(self.calls) + self.abandoned

    @property
    def unique_keys(self) -> int:
        with self._lock:
            return len(self.deliveries)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "raw_calls": len(self.calls) + self.abandoned,
                "accepted_calls": len(self.calls),
                "abandoned_calls": self.abandoned,
                "unique_keys": len(self.deliveries),
            }

    def repeated_keys(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(call["key"] for call in self.calls)
        return {key: n for key, n in counts.items() if n > 1}


class GatewayProcess:
    """A FakeSmsGateway in its own process, so its CPU does not compete with the caller's (bench)."""

    def __enter__(self) -> GatewayProcess:
        self.process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            [sys.executable, "-m", "tests.booking.reminder_harness", "gateway"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.process.kill()
            raise RuntimeError("the fake gateway did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def stats(self) -> dict[str, int]:
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        with opener.open(self.url, timeout=5) as response:
            return json.loads(response.read())


# --- Redis --------------------------------------------------------------------------------------


def redis_url() -> str | None:
    """REDIS_URL when set (CI's PostgreSQL run), else a redis-server started by scripts/redis.sh;
    None when redis-server is not installed."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url:
        return url
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        return None
    script = ROOT / "scripts" / "redis.sh"
    subprocess.run(["bash", str(script), "start"], check=True, capture_output=True, timeout=60)
    return subprocess.run(
        ["bash", str(script), "url"], check=True, capture_output=True, text=True, timeout=10
    ).stdout.strip()


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL for clinic.settings that opens the same database as `settings_dict`."""
    engine, name = settings_dict["ENGINE"], str(settings_dict["NAME"])
    if engine.endswith("sqlite3"):
        if name == ":memory:" or name.startswith("file:"):
            raise RuntimeError("a worker process cannot open an in-memory SQLite database")
        return f"sqlite:///{Path(name).resolve()}"
    if engine.endswith("postgresql"):
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "127.0.0.1"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(name, safe='')}"
    raise RuntimeError(f"no DATABASE_URL for {engine}")


def producer(broker_url: str, queue: str) -> Any:
    """A Celery app in this process that publishes send_reminders messages (REMINDER_TASK_BATCH
    ids each, as the sweep's own enqueue does) to `queue` on `broker_url`."""
    from celery import Celery

    from booking.messaging.delivery import batches

    app = Celery("reminder-harness", broker=broker_url, set_as_current=False)
    app.conf.task_serializer = "json"

    def enqueue(reminder_ids: list[int]) -> None:
        with app.producer_or_acquire() as publisher:
            for batch in batches(reminder_ids):
                app.send_task("booking.send_reminders", args=[batch], queue=queue, producer=publisher)

    enqueue.app = app  # type: ignore[attr-defined]
    return enqueue


def purge(broker_url: str, queue: str) -> None:
    """Drop what an earlier run may have left in this queue."""
    from celery import Celery

    app = Celery("reminder-harness-purge", broker=broker_url, set_as_current=False)
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        with contextlib.suppress(Exception):  # the queue may not exist yet
            channel.queue_purge(queue)


# --- the worker ----------------------------------------------------------------------------------


class CeleryWorker:
    """`celery -A clinic worker` in its own session (process group), restartable and killable."""

    def __init__(
        self, *, env: dict[str, str], queue: str, concurrency: int, log_dir: Path, loglevel: str = "INFO"
    ) -> None:
        self.env = env
        self.queue = queue
        self.concurrency = concurrency
        self.log_dir = log_dir
        self.loglevel = loglevel
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        log = self.log_path.open("wb")
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            f"--loglevel={self.loglevel}",
            f"--concurrency={self.concurrency}",
            "--pool=prefork",
            f"--queues={self.queue}",
            f"--hostname={self.hostname}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.process = subprocess.Popen(  # noqa: S603 - fixed command, no shell
            command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.tail()}")
            if self._ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout} s:\n{self.tail()}")

    def _ready(self) -> bool:
        if self.loglevel == "INFO":
            return b" ready." in self.log_path.read_bytes()
        # Quieter logs (a benchmark): ask the worker itself over the broker.
        from celery import Celery

        app = Celery("reminder-harness-ping", broker=self.env["CELERY_BROKER_URL"], set_as_current=False)
        try:
            return bool(app.control.ping(destination=[self.hostname], timeout=0.5))
        finally:
            app.close()

    @property
    def hostname(self) -> str:
        return f"harness-{os.getpid()}-{self.starts}@{socket.gethostname()}"

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def pool_children(self) -> list[int]:
        if self.process is None:
            return []
        parent = self.process.pid
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                children.append(int(stat.parent.name))
        return children

    def kill_group(self) -> None:
        """SIGKILL the main process and its pool children at once."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def kill_child(self) -> int | None:
        """SIGKILL one pool child; the main process notices and starts a new one."""
        children = self.pool_children()
        if not children:
            return None
        victim = random.choice(children)  # noqa: S311 - test randomness
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return victim

    def stop(self) -> None:
        """Kill the whole group (the test is over; nothing to finish gracefully)."""
        if self.process is not None and self.process.poll() is None:
            self.kill_group()
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)  # stragglers left in the group


def worker_env(*, database_url: str, broker_url: str, gateway_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker that talks to the given database, broker and gateway."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "PYTEST_CURRENT_TEST"}
        and not key.startswith(("REMINDER_", "SMS_", "CELERY_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "CLINIC_VAR_DIR": str(var_dir),
            "SMS_BACKEND": "http",
            "SMS_GATEWAY_URL": gateway_url,
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "REMINDER_QUIET_HOURS": "",  # the run must not depend on the time of day
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


if __name__ == "__main__":  # python -m tests.booking.reminder_harness gateway
    if sys.argv[1:] != ["gateway"]:
        raise SystemExit("usage: python -m tests.booking.reminder_harness gateway")
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with FakeSmsGateway() as running:
        print(running.url, flush=True)
        signal.sigwait(stop_signals)
