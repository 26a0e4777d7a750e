"""Settings for the TPI clinic scheduler: one file, read from the environment.

Local defaults need no server: a SQLite file under var/ and a Celery broker on disk.
Set CLINIC_ENV=production for the hardened mode (see docs/deploy.md and README.md).
"""

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE, NONE, SELF
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
    "ninja",  # serves the API docs' Swagger UI from our static files (no CDN: CSP, privacy)
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "django_ratelimit",
    "auditlog",
    "csp",
    "clinic",
    "patients",
    "booking",
    "accounts",
    "audit",
]

MIDDLEWARE = [
    "clinic.middleware.request_id_middleware",  # first: every later line and response carries the id
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.rate_limit_middleware",  # before sessions: a refused request costs no query
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "patients.language.preferred_language_middleware",  # a patient's language cookie, set at login
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.session_policy_middleware",  # timeouts; staff must pass the second factor
    "accounts.middleware.private_pages_middleware",  # no-store on pages with patient data
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "audit.middleware.AuditActorMiddleware",  # who changed a record (django-auditlog)
    "audit.middleware.access_log_middleware",  # who looked at which patients
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the 429 page
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
                "accounts.context_processors.csp_nonce",
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

# Argon2id first (ASVS 11.4.2); the others only verify old hashes and are upgraded at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Database sessions whose per-request read and write are one fixed statement each (clinic/sessions.py).
SESSION_ENGINE = "clinic.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# django-axes reads the login first (it counts failures per username + client address); then
# Django's model backend checks the password, with the user's roles read in the same query as the
# user on every request (clinic/auth.py). Tests log in with force_login, which skips both.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "clinic.auth.RoleAwareBackend",
]

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
    "expire-waitlist-offers": {"task": "booking.expire_waitlist_offers", "schedule": 60.0},
}

# --- Booking rules --------------------------------------------------------------------------
BOOKING_HOLD_MINUTES = env_int("BOOKING_HOLD_MINUTES", 10)
# Waitlist (docs/waitlist.md): how many entries a freed slot is offered to at once, how long an
# offer stays open, and how long before the visit (at least the visit type's minimum notice)
# offers close.
WAITLIST_OFFERS_PER_SLOT = env_int("WAITLIST_OFFERS_PER_SLOT", 3)
WAITLIST_OFFER_MINUTES = env_int("WAITLIST_OFFER_MINUTES", 120)
WAITLIST_OFFER_CUTOFF_MINUTES = env_int("WAITLIST_OFFER_CUTOFF_MINUTES", 60)


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

# --- Security (docs/security.md) -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
# No address leaves the site; the manage-by-link pages send strict-origin, never the path (accounts.middleware).
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# The cookie never outlives the longest session; idle and absolute limits are checked on the
# server by accounts.middleware.session_policy_middleware.
SESSION_COOKIE_AGE = 12 * 60 * 60
STAFF_SESSION_IDLE_MINUTES = env_int("STAFF_SESSION_IDLE_MINUTES", 15)
STAFF_SESSION_MAX_HOURS = env_int("STAFF_SESSION_MAX_HOURS", 12)
PATIENT_SESSION_IDLE_MINUTES = env_int("PATIENT_SESSION_IDLE_MINUTES", 30)
# How many reverse proxies in front of the app append to X-Forwarded-For (0: use the peer's
# address). The client address feeds the lockout, the rate limits and the access log.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 0)

# Login lockout (django-axes): 5 failures for one username from one address lock that pair for
# 15 minutes; the same username from elsewhere still logs in (no lockout of a real user by an
# attacker). The per-address cap across usernames is accounts.ratelimits (django-ratelimit).
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.net.client_ip"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# Two-factor for staff (django-otp TOTP). The issuer is what authenticator apps show.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Pain clinic")
OTP_TOTP_THROTTLE_FACTOR = 1
# Nobody, not even an admin, sees another person's secret key or QR code again after set-up.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Rate limits (django-ratelimit): counted in the cache; see accounts/ratelimits.py for the table.
RATELIMIT_IP_META_KEY = "accounts.net.client_ip"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
RATE_LOGIN_PER_IP = env_str("RATE_LOGIN_PER_IP", "200/15m")
RATE_LOGIN_FAILURES_PER_IP = env_str("RATE_LOGIN_FAILURES_PER_IP", "30/15m")
RATE_TWO_FACTOR = env_str("RATE_TWO_FACTOR", "20/15m")
RATE_MANAGE_LINK_PER_IP = env_str("RATE_MANAGE_LINK_PER_IP", "30/10m")
RATE_BOOKING_API = env_str("RATE_BOOKING_API", "60/m")
RATE_REGISTER_PER_IP = env_str("RATE_REGISTER_PER_IP", "20/h")
RATE_BOOKING_HOLD = env_str("RATE_BOOKING_HOLD", "20/10m")

# The cache holds rate-limit counters (and throttles) that every process must share: Redis in
# production (REDIS_CACHE_URL, e.g. redis://127.0.0.1:6379/1); per-process memory otherwise.
# django-ratelimit does not list Django's own Redis backend, which increments atomically too.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL", "")
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    if not PRODUCTION:
        # Each process counts on its own: fine for one runserver; production fails the check.
        SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# Content-Security-Policy (django-csp 4): scripts only from our static files or with the
# request's nonce; no inline styles; nothing framed, no plugins, no <base>.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Bootstrap draws checkboxes and select arrows as data: SVG
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}

# django-auditlog: who changed what (audit/registry.py lists the models).
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False

if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host-: the browser sends them only over HTTPS, to this exact host, for every path.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["upgrade-insecure-requests"] = True
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
LOGGING: dict[str, Any] = {  # the test settings adjust it
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
