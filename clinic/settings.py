"""Settings for the TPI clinic scheduler: one file, read from the environment.

Local defaults need no server: a SQLite file under var/ and a Celery broker on disk.
Set CLINIC_ENV=production for the hardened mode (see docs/deploy.md and README.md).
"""

from datetime import time, timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLINIC_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

CLINIC_ENV = env_str("CLINIC_ENV", "development")
if CLINIC_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"CLINIC_ENV must be 'development' or 'production', got {CLINIC_ENV!r}")
PRODUCTION = CLINIC_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
_DEV_SECRET = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", "" if PRODUCTION else _DEV_SECRET)
if PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to at least 50 random characters in production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "django_htmx",
    "phonenumber_field",
    "clinic",
    "patients",
    "booking",
]

MIDDLEWARE = [
    "clinic.middleware.request_id_middleware",  # first: every later line and response carries the id
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
if PRODUCTION:
    # Static files straight from gunicorn: hashed names, pre-compressed, cached for a year.
    # Development keeps runserver's own static handler (no collectstatic needed there or in tests).
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite: WAL, IMMEDIATE transactions (writers queue for the lock instead of failing on the
# read->write upgrade) and a busy timeout. PostgreSQL: psycopg 3, optional connection pool.
_SQLITE_DEFAULT = f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _SQLITE_DEFAULT))}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    # A file, not memory: the concurrency tests open the test database from several processes.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # A dead or unreachable server fails a request (and /healthz) within seconds, not minutes.
    _db.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT", 5)
    if env_bool("DATABASE_POOL", False):
        # One pool per process, opened lazily after gunicorn and Celery fork their workers.
        # Size it at least to the threads that share it (gunicorn --threads); `timeout` is how
        # long a request waits for a free connection before failing.
        _db["OPTIONS"]["pool"] = {
            "min_size": env_int("DATABASE_POOL_MIN", 2),
            "max_size": env_int("DATABASE_POOL_MAX", 10),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        }
    else:
        _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60 if PRODUCTION else 0)
        _db["CONN_HEALTH_CHECKS"] = True
else:
    raise ImproperlyConfigured("DATABASE_URL must point at SQLite or PostgreSQL")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Database sessions whose per-request read and write are one fixed statement each (clinic/sessions.py).
SESSION_ENGINE = "clinic.sessions"
# Django's model backend, with the user's roles read in the same query (clinic/auth.py).
AUTHENTICATION_BACKENDS = ["clinic.auth.RoleAwareBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- Time and language ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Instants are stored in UTC; each Location carries its IANA zone for wall-clock rules.
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production: `collectstatic` writes hashed, compressed copies and a manifest that WhiteNoise
    # serves; every other mode uses plain names, so tests and runserver need no collectstatic.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
PHONENUMBER_DEFAULT_REGION = env_str("PHONENUMBER_DEFAULT_REGION", "US")

# --- E-mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "outbox" / "email"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Clinic <no-reply@clinic.invalid>")

# --- Celery -----------------------------------------------------------------------------------
# Default: a broker on disk (kombu's filesystem transport), so `make run` needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
_celery_dir = VAR_DIR / "celery"
_celery_dir.mkdir(exist_ok=True)  # beat keeps its schedule file here, whatever the broker
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (_celery_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_celery_dir / "control"),  # else kombu writes ./control/ in the repo
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300)}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(_celery_dir / "beat-schedule")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# Celery's Django fix-up closes every database connection around every task unless this is set;
# a reconnect per reminder costs more than the send. Workers keep a connection for this many
# tasks (booking.tasks still drops one that broke).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 500)
# Beat only enqueues sweeps; each sweep is idempotent, so a replayed tick does no harm.
CELERY_BEAT_SCHEDULE = {
    "expire-holds": {"task": "booking.expire_holds", "schedule": 60.0},
    "sweep-reminders": {"task": "booking.sweep_reminders", "schedule": float(env_int("REMINDER_SWEEP_SECONDS", 60))},
}

# --- Booking rules --------------------------------------------------------------------------
BOOKING_HOLD_MINUTES = env_int("BOOKING_HOLD_MINUTES", 10)


# --- Reminders and messages (docs/reminders.md) ---------------------------------------------
def _reminder_schedule(raw: str) -> list[tuple[str, str, timedelta]]:
    """ "reminder_long:email:48h,reminder_short:sms:24h" -> [(kind, channel, offset), ...]."""
    schedule = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            kind, channel, hours = item.split(":")
            offset = timedelta(hours=float(hours.removesuffix("h")))
        except ValueError:
            raise ImproperlyConfigured(
                f"REMINDER_SCHEDULE: {item!r} is not kind:channel:hours, e.g. reminder_short:sms:24h"
            ) from None
        if kind not in {"reminder_long", "reminder_short"} or channel not in {"email", "sms"} or offset <= timedelta(0):
            raise ImproperlyConfigured(
                f"REMINDER_SCHEDULE: {item!r} needs reminder_long|reminder_short, email|sms and hours > 0"
            )
        schedule.append((kind, channel, offset))
    return schedule


def _quiet_hours(raw: str) -> tuple[time, time] | None:
    """ "21:00-08:00" -> (21:00, 08:00); "" -> no quiet hours."""
    if not raw.strip():
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"REMINDER_QUIET_HOURS must look like 21:00-08:00, got {raw!r}") from None
    if start == end:
        raise ImproperlyConfigured("REMINDER_QUIET_HOURS: start and end must differ")
    return start, end


# Reminders before a visit: whole days count in the location's wall time, the rest as elapsed time.
REMINDER_SCHEDULE = _reminder_schedule(env_str("REMINDER_SCHEDULE", "reminder_long:email:48h,reminder_short:sms:24h"))
# Local time of the visit's location; scheduled messages wait until the quiet hours end.
REMINDER_QUIET_HOURS = _quiet_hours(env_str("REMINDER_QUIET_HOURS", "21:00-08:00"))
# A claimed row is the worker's for this long; it must outlast the task's hard time limit.
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 300)
REMINDER_TASK_TIME_LIMIT = env_int("REMINDER_TASK_TIME_LIMIT", 120)
if not 0 < REMINDER_TASK_TIME_LIMIT < REMINDER_LEASE_SECONDS:
    raise ImproperlyConfigured("REMINDER_TASK_TIME_LIMIT must be positive and shorter than REMINDER_LEASE_SECONDS")
# A row handed to the broker is not handed out again for this long (a lost message is re-sent after it).
REMINDER_REQUEUE_SECONDS = env_int("REMINDER_REQUEUE_SECONDS", 300)
REMINDER_SWEEP_BATCH = env_int("REMINDER_SWEEP_BATCH", 5000)
# Rows per Celery message (booking.send_reminders); each row is still claimed and sent on its own.
REMINDER_TASK_BATCH = env_int("REMINDER_TASK_BATCH", 25)
if REMINDER_TASK_BATCH < 1:
    raise ImproperlyConfigured("REMINDER_TASK_BATCH must be at least 1")
# Workers keep message templates this long; an edit in the admin reaches them within it.
REMINDER_TEMPLATE_CACHE_SECONDS = env_int("REMINDER_TEMPLATE_CACHE_SECONDS", 60)
# Retries of a failed send: Celery's exponential backoff with jitter, capped far below the
# broker's visibility timeout; then the row is marked failed for staff.
REMINDER_MAX_RETRIES = env_int("REMINDER_MAX_RETRIES", 8)
REMINDER_RETRY_BACKOFF = env_int("REMINDER_RETRY_BACKOFF", 5)
REMINDER_RETRY_BACKOFF_MAX = env_int("REMINDER_RETRY_BACKOFF_MAX", 120)
# Claims per row before it is marked failed (also ends a crash loop on one message).
REMINDER_MAX_ATTEMPTS = env_int("REMINDER_MAX_ATTEMPTS", 15)
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
REMINDER_MANAGE_PATH = env_str("REMINDER_MANAGE_PATH", "/my/appointments/")
# SMS: "file" (var/outbox/sms.log), "locmem" (tests), "http" (a JSON gateway) or a dotted path.
SMS_BACKEND = env_str("SMS_BACKEND", "http" if PRODUCTION else "file")
SMS_FILE_PATH = VAR_DIR / "outbox" / "sms.log"
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_TIMEOUT = env_int("SMS_GATEWAY_TIMEOUT", 10)
SMS_SENDER_ID = env_str("SMS_SENDER_ID", "")

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # TLS ends at the reverse proxy, which sets this header (docs/deploy.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Operations (docs/deploy.md) -------------------------------------------------------------
# Seconds each /healthz check (database, broker) may take.
HEALTH_CHECK_TIMEOUT = env_int("HEALTH_CHECK_TIMEOUT", 2)
if PRODUCTION:
    # Probes talk to gunicorn directly over plain HTTP; the health answer holds no data.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# "json": one JSON object per line (production default); "plain": for people (development).
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "plain")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'json' or 'plain', got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "clinic.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "clinic.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
