"""Settings for the test suite: the real settings with a fast hasher and in-memory e-mail."""

import os

from clinic.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file per test process (concurrency tests fork children that must share it), so that
    # two test runs on one machine never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "tests" / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
    (VAR_DIR / "tests").mkdir(exist_ok=True)  # noqa: F405
