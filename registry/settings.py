"""Lutetia settings: everything comes from the environment (CONTRACT.md, "Running it").

Embedded defaults give a working development set-up with nothing but Python:
SQLite in the project folder and Celery tasks run in-process.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (Docker secrets)."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return None


DEBUG = envbool("DEBUG", False)
# pytest (8.2+) sets PYTEST_VERSION before Django reads these settings.
TESTING = envbool("LUTETIA_TESTING", False) or "PYTEST_VERSION" in os.environ

# A process that serves requests: the WSGI entry point (gunicorn) or runserver.
SERVING = os.environ.get("LUTETIA_WSGI") == "1" or "runserver" in sys.argv[1:2]

SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY:
    if SERVING and not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # A per-process random key, never a hard-coded one: sessions signed with it
    # do not survive a restart, which is fine for development, tests and
    # management commands (migrate, import_cohort, a Celery worker), none of
    # which sign anything a browser keeps.
    SECRET_KEY = os.urandom(32).hex()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "csp",
    "registry",
    "api",
]

MIDDLEWARE = [
    # First: the probe's /health/ answers whatever ALLOWED_HOSTS and the HTTPS redirect say.
    "registry.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "registry.middleware.LengthRequiredMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "registry.middleware.PagesLoginRequiredMiddleware",
    "registry.middleware.CustomFieldsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "registry.urls"
WSGI_APPLICATION = "registry.wsgi.application"

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

DATABASES = {
    "default": (
        dj_database_url.parse(
            os.environ["DATABASE_URL"],
            conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0 if TESTING else 60),
            conn_health_checks=True,
        )
        if os.environ.get("DATABASE_URL")
        else {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "lutetia.sqlite3"}
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the in-process task and the request read and write side by side.
    DATABASES["default"].setdefault("OPTIONS", {})["init_command"] = "PRAGMA journal_mode=WAL;"
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The platelet index's included column (`lab_platelets`) lets PostgreSQL answer the
# dashboard's platelet panel from the index alone; SQLite ignores it and keeps the index,
# so its warning says nothing an operator can act on.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sign-in lockout (django-axes): after LUTETIA_LOCKOUT_FAILURES wrong passwords for
# one username from one address, that pair is refused for LUTETIA_LOCKOUT_MINUTES,
# on the sign-in page, the admin's and the API token endpoint alike. Attempts are
# kept in the database, so every gunicorn worker sees them. Unlock early with
# `manage.py axes_reset_username NAME` (README, "Sign-in lockout").
AUTHENTICATION_BACKENDS = [
    "registry.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LUTETIA_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LUTETIA_LOCKOUT_MINUTES", 15))
# Username and address together: a guesser cannot lock a colleague out from
# elsewhere, and 120 guesses at one account from one address stop at the fifth.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The lockout's own log lines name no one: usernames and addresses are masked.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address"]
# The client's address: REMOTE_ADDR, unless NUM_PROXIES trusted reverse proxies
# sit in front (then the address they append to X-Forwarded-For). A forged
# X-Forwarded-For from the client itself is ignored either way.
NUM_PROXIES = envint("NUM_PROXIES", 0)
AXES_CLIENT_IP_CALLABLE = "registry.auth.client_address"

# API tokens expire this many hours after they were issued; a new sign-in at the
# token endpoint issues a new one (the old one stops working), and a password
# change or a browser sign-out revokes them.
LUTETIA_TOKEN_HOURS = envint("LUTETIA_TOKEN_HOURS", 24)

# The cache holds the API throttles' counters, so it must be shared by every
# worker process: Redis when CACHE_URL (or a redis:// broker) is set, else a
# table in the database (created by migration 00xx, nothing to run by hand).
_CACHE_URL = os.environ.get("CACHE_URL") or (
    os.environ.get("CELERY_BROKER_URL", "")
    if os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://"))
    else ""
)
if _CACHE_URL:
    _CACHE = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
elif TESTING:
    # One process, and query-count tests that count our queries, not the throttle's:
    # tests/test_gunicorn_limits.py runs the database cache across real workers.
    _CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
else:
    _CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "lutetia_cache"}
CACHES = {"default": _CACHE}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en-gb")
# How pages show dates (Django's date format characters); inputs follow the browser's
# locale. Exports, the API and the interchange format always use ISO dates.
DATE_FORMAT = os.environ.get("DATE_FORMAT", "d/m/Y")
DATETIME_FORMAT = os.environ.get("DATETIME_FORMAT", DATE_FORMAT + " H:i")
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/Amsterdam")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# plotly.js comes from the plotly package's own copy (registry/staticfinders.py): never
# a CDN, and nothing large committed to the repo.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "registry.staticfinders.PlotlyFinder",
]
# Pages link every file through {% static %}, so collectstatic keeps only the hashed
# names, and source maps (for a browser's developer tools) are stored uncompressed:
# half the files to compress, a deploy's collectstatic 42 s -> 11 s with the plotly finder.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
# Files whitenoise serves at the site's root, without a login: /favicon.ico, which
# browsers ask for on every page whatever the <link rel="icon"> says.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Request bodies: a whole-cohort import may be large, anything else is small.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 50 * 1024 * 1024)
# An import body above this many bytes is streamed to MEDIA_ROOT/imports/ and read by the
# worker (202 at once); below it, it is parsed in the request (mistakes are a 400 at once).
LUTETIA_IMPORT_INLINE_BYTES = envint("LUTETIA_IMPORT_INLINE_BYTES", 2 * 1024 * 1024)
LUTETIA_IMPORT_MAX_BYTES = envint("LUTETIA_IMPORT_MAX_BYTES", 2 * 1024 * 1024 * 1024)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and not TESTING and envbool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content-Security-Policy (django-csp): scripts only from our own static files, never
# inline, never eval'd, so HTML that slips into a page cannot run. Styles allow inline
# attributes because plotly.js styles its SVG that way; nothing is loaded from elsewhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
# HTTPS behind the hospital's TLS-terminating reverse proxy: opt-in, because only
# the operator knows the proxy sets X-Forwarded-Proto and that every host is HTTPS
# (HSTS cannot be taken back once browsers have seen it).
if envbool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
# Off unless asked: a hospital's other subdomains are rarely all HTTPS.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)

# --- Celery ---------------------------------------------------------------
# Unset broker: tasks run eagerly in-process (after commit), so `make run`
# needs nothing but Python. Celery still acquires a producer for an eager task, so
# the broker is kombu's in-memory transport, with a host so kombu logs no warning.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = envint("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", 360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis redelivers a message not acknowledged within the visibility timeout
# (acks_late: a worker killed mid-task). Keep it above the hard time limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("LUTETIA_BROKER_VISIBILITY_TIMEOUT", 3600),
    # A worker looks for such messages every interval × throttle seconds.
    "unacked_restore_interval": envint("LUTETIA_BROKER_RESTORE_INTERVAL", 10),
    "unacked_restore_throttle": envint("LUTETIA_BROKER_RESTORE_THROTTLE", 10),
    "max_retries": 1,
    # A worker consuming several queues empties them in the order given (interactive first).
    "queue_order_strategy": "priority",
}
# Where tasks are sent and what `celery -A registry worker` consumes by default:
# one patient's recompute after a clinician's save goes to `<default>.interactive`
# (registry.celery.route), so a bulk recompute queued ahead of it does not delay it;
# docker-compose gives that queue a worker of its own.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE") or "celery"
CELERY_TASK_QUEUES = [
    Queue(f"{CELERY_TASK_DEFAULT_QUEUE}.interactive"),
    Queue(CELERY_TASK_DEFAULT_QUEUE),
]
CELERY_TASK_ROUTES = ("registry.celery.route",)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
# Patients per recompute task message when many are queued at once (an import).
LUTETIA_RECOMPUTE_BATCH_SIZE = envint("LUTETIA_RECOMPUTE_BATCH_SIZE", 200)
# How long the research pages and the API's cohort analyses keep a result for the same
# data, scope and question (registry.research.memo; any write moves the data version,
# so this bounds only how long a result outlives a cache outage). 0 turns it off;
# off in tests, where rolled-back transactions never move the version.
LUTETIA_RESULT_CACHE_SECONDS = envint("LUTETIA_RESULT_CACHE_SECONDS", 0 if TESTING else 600)
# TEST ONLY: seconds each recompute task sleeps before working, so a test can
# kill a worker mid-task (tests/test_celery_worker.py). Leave unset.
LUTETIA_TEST_TASK_DELAY = envfloat("LUTETIA_TEST_TASK_DELAY", 0.0)
CELERY_TIMEZONE = TIME_ZONE
# Recompute patients still stale after this many seconds (a lost message or a
# broker outage delays results but never loses them).
LUTETIA_STALE_SWEEP_SECONDS = envint("LUTETIA_STALE_SWEEP_SECONDS", 180)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-patients": {
        "task": "registry.tasks.sweep_stale_patients",
        "schedule": float(envint("LUTETIA_SWEEP_INTERVAL_SECONDS", 60)),
    },
    "sweep-queued-imports": {
        "task": "api.tasks.sweep_queued_imports",
        "schedule": float(envint("LUTETIA_SWEEP_INTERVAL_SECONDS", 60)),
    },
    "sweep-queued-exports": {
        "task": "registry.export_tasks.sweep_queued_exports",
        "schedule": float(envint("LUTETIA_SWEEP_INTERVAL_SECONDS", 60)),
    },
    "purge-expired-exports": {
        "task": "registry.export_tasks.purge_expired_exports",
        "schedule": 3600.0,
    },
}
# Where beat keeps its schedule's state (when each task last ran): beside the
# media files, never the project folder or /tmp (docker-compose gives it a volume).
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(MEDIA_ROOT / "beat" / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULER = "registry.celery:Scheduler"
# Background export files (de-identified, but patient-level data) are deleted this
# many days after they were built; the job record stays, as a log of who exported what.
LUTETIA_EXPORT_RETENTION_DAYS = envint("LUTETIA_EXPORT_RETENTION_DAYS", 7)

# --- Clinical settings (CLINICAL.md) -------------------------------------
LUTETIA_TOXICITY_WINDOW_DAYS = envint("LUTETIA_TOXICITY_WINDOW_DAYS", 90)
# §1: a course reaches its intended activity at this fraction of it (7.4 + 7.3 of 14.8 GBq).
LUTETIA_INTENDED_ACTIVITY_FRACTION = envfloat("LUTETIA_INTENDED_ACTIVITY_FRACTION", 0.9)
# §2c: off (None) unless set to a number of days.
RESPONSE_CONFIRMATION_DAYS = envint("RESPONSE_CONFIRMATION_DAYS", 0) or None
# §7: the Rotterdam values of the seed era.
LUTETIA_ELIGIBILITY = {
    "hemoglobin_min_mmol_l": envfloat("LUTETIA_ELIG_HB_MIN_MMOL_L", 6.0),
    "wbc_min": envfloat("LUTETIA_ELIG_WBC_MIN", 2.0),
    "platelets_min": envfloat("LUTETIA_ELIG_PLATELETS_MIN", 75.0),
    "creatinine_max_umol_l": envfloat("LUTETIA_ELIG_CREATININE_MAX", 150.0),
    "clearance_min_ml_min": envfloat("LUTETIA_ELIG_CLEARANCE_MIN", 40.0),
    "min_days_between_cycles": envint("LUTETIA_ELIG_MIN_DAYS", 42),
    "max_lifetime_gbq": envfloat("LUTETIA_ELIG_MAX_LIFETIME_GBQ", 44.4),
    "lab_lookback_days": envint("LUTETIA_ELIG_LAB_DAYS", 14),
}

# --- REST framework -------------------------------------------------------
# Tests (and reference checks run under pytest) sign in far more often than 30
# times a minute from one address; the throttle test sets its own rates.
_ANON_RATE = "100000/minute" if TESTING else "30/minute"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "EXCEPTION_HANDLER": "api.exceptions.registry_exception_handler",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.AnonRateThrottle",
        "api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("LUTETIA_THROTTLE_ANON", _ANON_RATE),
        "user": os.environ.get("LUTETIA_THROTTLE_USER", "5000/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Throttles count per client address: see NUM_PROXIES above.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Lutetia API",
    "DESCRIPTION": "Registry for 177Lu-octreotate PRRT: facts in, response, toxicity and "
    "survival out. Stable contract: CONTRACT.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ResponseCodeEnum": "registry.models.ResponseCode",
        "PhaseEnum": "registry.models.Phase",
        "CriteriaEnum": "registry.models.Criteria",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
