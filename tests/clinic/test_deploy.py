"""The files in deploy/: gunicorn reads its settings from the environment and logs JSON, the
systemd units run exactly one beat, the environment example holds no secrets, and production
serves hashed, compressed static files without any extra server."""

import json
import os
import re
import runpy
import subprocess
import sys
from configparser import ConfigParser
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

# Slow: a production collectstatic in a subprocess. In the "processes" group (see the Makefile) so
# that it runs beside the ordinary tests rather than after them, and never beside another such test.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("processes")]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = ("clinic-web.service", "clinic-worker.service", "clinic-beat.service")


def gunicorn_config(monkeypatch, **env):
    for name in list(os.environ):
        if name.startswith("GUNICORN_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))


def test_gunicorn_reads_bind_workers_threads_and_timeouts_from_the_environment(monkeypatch):
    config = gunicorn_config(
        monkeypatch,
        GUNICORN_BIND="127.0.0.1:8001,127.0.0.1:8002",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="4",
        GUNICORN_TIMEOUT="20",
        GUNICORN_GRACEFUL_TIMEOUT="25",
    )
    assert config["bind"] == ["127.0.0.1:8001", "127.0.0.1:8002"]
    assert (config["workers"], config["threads"], config["timeout"], config["graceful_timeout"]) == (3, 4, 20, 25)
    assert config["wsgi_app"] == "clinic.wsgi:application"
    assert config["preload_app"] is False  # pools are opened after the fork
    assert config["control_socket_disable"] is True


def test_gunicorn_defaults_listen_on_loopback_only(monkeypatch):
    config = gunicorn_config(monkeypatch)
    assert config["bind"] == ["127.0.0.1:8000"]
    assert config["workers"] >= 2


def test_gunicorn_refuses_a_bad_number(monkeypatch):
    with pytest.raises(SystemExit, match="GUNICORN_WORKERS"):
        gunicorn_config(monkeypatch, GUNICORN_WORKERS="many")


def test_the_access_log_line_is_json_with_the_request_id(monkeypatch):
    config = gunicorn_config(monkeypatch)
    atoms = {
        "h": "127.0.0.1",
        "m": "POST",
        "U": "/api/v1/appointments",
        "q": "q=Moreno",
        "s": "201",
        "B": 512,
        "a": "Mozilla/5.0",
        "{x-request-id}o": "f3a9c2e077b14c55",
        "{x-forwarded-for}i": "203.0.113.9",
    }
    entry = json.loads(config["access_line"](atoms, timedelta(milliseconds=12.5)))
    assert entry["request_id"] == "f3a9c2e077b14c55"
    assert entry["status"] == 201
    assert entry["duration_ms"] == 12.5
    assert entry["path"] == "/api/v1/appointments"
    assert entry["forwarded_for"] == "203.0.113.9"
    assert "Moreno" not in json.dumps(entry)  # no query string: it can hold a patient search


def test_the_json_logger_formats_access_and_error_lines(monkeypatch, capsys):
    from gunicorn.config import Config

    config = gunicorn_config(monkeypatch)
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("errorlog", "-")
    logger = config["JsonLogger"](cfg)
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "req-log-000001")], sent=34)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/healthz", "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/healthz"}
    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(milliseconds=3))
    logger.error("worker %s booted", 7)
    captured = capsys.readouterr()
    access = json.loads(captured.out.strip().splitlines()[-1])
    error = json.loads(captured.err.strip().splitlines()[-1])
    assert (access["request_id"], access["status"]) == ("req-log-000001", 200)
    assert (error["level"], error["message"]) == ("ERROR", "worker 7 booted")


def unit(name: str) -> ConfigParser:
    parser = ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / name)
    return parser


def test_only_the_beat_unit_runs_beat_and_workers_have_no_embedded_beat():
    commands = {name: unit(name)["Service"]["ExecStart"] for name in UNITS}
    assert "gunicorn -c deploy/gunicorn.conf.py" in commands["clinic-web.service"]
    assert " worker " in commands["clinic-worker.service"]
    assert " beat " in commands["clinic-beat.service"]
    for name in ("clinic-web.service", "clinic-worker.service"):
        assert " beat" not in commands[name] and not re.search(r"\s(-B|--beat)\b", commands[name])


def test_every_unit_reads_the_same_environment_file_and_writes_only_its_state_folder():
    for name in UNITS:
        service = unit(name)["Service"]
        assert service["EnvironmentFile"] == "/etc/clinic/clinic.env"
        assert service["ProtectSystem"] == "strict"
        assert service["StateDirectory"] == "clinic"
        assert service["User"] == "clinic"


def test_the_environment_example_holds_no_secret():
    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / "clinic.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert values["CLINIC_ENV"] == "production"
    for name in ("SECRET_KEY", "EMAIL_HOST_PASSWORD", "SMS_GATEWAY_TOKEN"):
        assert values[name] == "CHANGE-ME"
    assert ":CHANGE-ME@" in values["DATABASE_URL"]


def test_production_collects_hashed_compressed_static_files_and_serves_them(tmp_path):
    """collectstatic with the production storage, then a request for a hashed file through the
    middleware stack (WhiteNoise answers it with a year-long immutable cache).

    Third-party folders are left out: django-ninja's API-docs bundles and their source maps are
    ~10 MB that WhiteNoise would compress with Brotli for most of a minute; the app's own files
    go through the same storage."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "STATIC_ROOT"}}
    env.update(
        CLINIC_ENV="production",
        SECRET_KEY="static-check-only-" + "k7Qp2Zx9" * 6,
        ALLOWED_HOSTS="testserver",
        CLINIC_VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_SETTINGS_MODULE="clinic.settings",
    )
    script = """
import django
django.setup()
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client
call_command(
    "collectstatic", interactive=False, verbosity=0, ignore_patterns=["admin", "bootstrap", "django_htmx", "ninja"]
)
url = static("clinic.css")
response = Client().get(url, HTTP_ACCEPT_ENCODING="gzip", secure=True)
print(url, response.status_code, response["Cache-Control"], response.get("Content-Encoding", ""), sep="|")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    url, status, cache_control, encoding = result.stdout.strip().split("|")
    assert re.fullmatch(r"/static/clinic\.[0-9a-f]{12}\.css", url)
    assert status == "200"
    assert "immutable" in cache_control and "max-age=315360000" in cache_control
    assert encoding == "gzip"
    assert (tmp_path / "static" / "staticfiles.json").exists()
