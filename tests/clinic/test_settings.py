"""Settings come from the environment, fail loudly on bad values, and production passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


PRODUCTION = {
    "CLINIC_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-for-the-check-only-0123456789",
    "ALLOWED_HOSTS": "clinic.example.com",
    "REDIS_CACHE_URL": "redis://127.0.0.1:6379/1",  # the check does not connect
}


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", CLINIC_VAR_DIR=str(tmp_path), **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_without_a_shared_cache_fails_the_check(tmp_path):
    """Rate-limit counters in each process's memory would let every gunicorn worker count apart."""
    env = {**PRODUCTION, "REDIS_CACHE_URL": ""}
    result = run_manage("check", "--deploy", CLINIC_VAR_DIR=str(tmp_path), **env)
    assert result.returncode != 0
    assert "django_ratelimit.E003" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_real_secret_key(tmp_path):
    result = run_manage("check", CLINIC_ENV="production", CLINIC_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_env_helpers_read_values_and_fail_loudly_on_bad_ones(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a.example, b.example,")
    assert env_bool("X_BOOL", False) is True
    assert env_int("X_INT", 1) == 42
    assert env_list("X_LIST", []) == ["a.example", "b.example"]
    monkeypatch.setenv("X_BOOL", "maybe")
    monkeypatch.setenv("X_INT", "forty")
    with pytest.raises(ImproperlyConfigured, match="X_BOOL"):
        env_bool("X_BOOL", False)
    with pytest.raises(ImproperlyConfigured, match="X_INT"):
        env_int("X_INT", 1)
