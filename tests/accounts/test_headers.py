"""Headers: a nonce-based Content-Security-Policy on every page, no-store on anything a logged-in
person or a manage link sees, and HTTPS-only settings in production (ASVS 3.3.x, 3.4.x, 14.3.2).
Every page's own markup is checked for inline script and styles by the URL walk (tests/test_url_walk.py).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import sign_in

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def test_pages_carry_a_strict_policy_and_scripts_carry_its_nonce(clinic):
    page = Client().get("/")
    policy = directives(page)
    nonce = policy["script-src"].split("'nonce-")[1].rstrip("'")
    assert policy["script-src"] == f"script-src 'self' 'nonce-{nonce}'"
    assert policy["style-src"] == "style-src 'self'"
    assert policy["object-src"] == "object-src 'none'"
    assert policy["base-uri"] == "base-uri 'none'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert f'nonce="{nonce}"' in page.content.decode()  # htmx's script tag
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert page["X-Frame-Options"] == "DENY"
    assert "no-store" not in page.get("Cache-Control", "")  # a public page may be cached


def test_each_page_gets_a_new_nonce(clinic):
    first, second = Client().get("/"), Client().get("/")
    assert directives(first)["script-src"] != directives(second)["script-src"]


def test_pages_seen_logged_in_are_never_stored(desk_user, alice_user, clinic):
    for user, path in (
        (desk_user, f"/desk/patients/{clinic.alice.pk}"),
        (alice_user, "/my/series/"),
        (alice_user, "/"),
    ):
        client = Client()
        sign_in(client, user)
        answer = client.get(path)
        assert answer.status_code == 200
        assert "no-store" in answer["Cache-Control"], path


def test_api_answers_with_a_token_or_session_are_never_stored(alice_user, clinic):
    client = Client()
    sign_in(client, alice_user)
    assert "no-store" in client.get("/api/v1/appointments")["Cache-Control"]


def test_manage_link_pages_are_not_stored_and_send_no_referrer():
    answer = Client().get("/manage/some-token")  # the pages are being built; the rule is by prefix
    assert "no-store" in answer["Cache-Control"]
    assert answer["Referrer-Policy"] == "strict-origin"


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.test import Client, override_settings
plain = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
with override_settings(STORAGES=plain):  # no collectstatic manifest in a test
    r = Client().get("/accounts/login/", secure=True, HTTP_HOST="clinic.example.com")
cookies = {k: {"secure": bool(v["secure"]), "samesite": v["samesite"]} for k, v in r.cookies.items()}
print(json.dumps({"status": r.status_code, "headers": dict(r.headers), "cookies": cookies}))
"""


def test_production_sends_hsts_and_secure_host_only_cookies(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        CLINIC_ENV="production",
        SECRET_KEY="y" * 60,
        ALLOWED_HOSTS="clinic.example.com",
        REDIS_CACHE_URL="redis://127.0.0.1:6379/1",
        CLINIC_VAR_DIR=str(tmp_path),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    run = subprocess.run([sys.executable, "-c", PRODUCTION_PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    headers = probe["headers"]
    assert probe["status"] == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "upgrade-insecure-requests" in headers["Content-Security-Policy"]
    assert probe["cookies"]["__Host-csrftoken"]["secure"] is True
    assert probe["cookies"]["__Host-csrftoken"]["samesite"] == "Lax"


def test_no_template_has_inline_script_styles_or_handlers():
    """Every template, including htmx partials the URL walk may not reach (house rule: the CSP
    allows none of these)."""
    from tests.test_url_walk import INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE, JS_URL

    problems = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        for label, pattern in (("script", INLINE_SCRIPT), ("handler", INLINE_HANDLER), ("style", INLINE_STYLE)):
            if found := pattern.search(text):
                problems.append(f"{template.relative_to(ROOT)}: inline {label}: {found.group(0)[:60]}")
        if found := JS_URL.search(text):
            problems.append(f"{template.relative_to(ROOT)}: javascript: URL")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/manage/done", "/waitlist/offer/some-token", "/waitlist/offer/"])
def test_every_link_page_is_not_stored_and_sends_only_the_origin(path):
    answer = Client().get(path)  # no login: the token is the credential
    assert "no-store" in answer["Cache-Control"], path
    assert answer["Referrer-Policy"] == "strict-origin", path
