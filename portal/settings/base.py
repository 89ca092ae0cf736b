"""Settings shared by every environment; every value a deployment changes comes from the environment."""

from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_dramatiq",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.accounts",
    "portal.library",
    "portal.jobs",
    "portal.api",
    "portal.support",
    "portal.checkpoints",
    # LTI 1.3: pylti1p3's platform registrations (before portal.lti, whose admin replaces the library's), then ours.
    "portal.lti.apps.PlatformRegistrationsConfig",
    "portal.lti",
    "portal",
    "billing",
    "csp",
]

MIDDLEWARE = [
    "portal.metrics.request_metrics",  # first, so that it times and counts what every other middleware does
    "portal.request_ids.request_ids",  # every response (errors included) carries its Request-Id
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Picks the language from the switcher's cookie, else the browser's Accept-Language (URLs carry no prefix).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads a body (CSRF's view hook parses forms): too large for its endpoint is 413 unread.
    "portal.request_limits.body_size_limit",
    # Next, before any view or form reads a value: NUL, lone surrogates and JSON too deep are refused here.
    "portal.request_values.refuse_unstorable_values",
    # After authentication: a signed-in user's saved language and time zone win over the browser's.
    "portal.accounts.preferences.user_preferences",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.support.second_factor.require_second_factor",
    "portal.api.middleware.rate_limit_headers",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data stores -------------------------------------------------------------------------------------------
# PostgreSQL only: web, workers and the scheduler write at once and quotas rely on row locks. Production names it in
# DATABASE_URL; local and test settings start an embedded one (portal/embedded_postgres.py) when it is unset.
DATABASE_URL = env("DATABASE_URL", default="")


def database(url: str) -> dict:
    config = env.db_url_config(url)
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise environ.ImproperlyConfigured(
            f"DATABASE_URL must name a PostgreSQL database (postgres://...), not {config['ENGINE']}: "
            "SQLite and other databases are not supported."
        )
    config["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    return config


DATABASES = {"default": database(DATABASE_URL)} if DATABASE_URL else {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "portal-cache",
    }
}

# The modules that declare actors (portal/queue.py's ACTOR_MODULES): a worker imports them; billing's Stripe
# webhooks share a name with the jobs' webhook deliveries and declare none.
DRAMATIQ_AUTODISCOVER_MODULES = ["rendering", "webhooks", "upload.check", "scripts", "captions"]
DRAMATIQ_IGNORED_MODULES = ["billing.webhooks"]
DRAMATIQ_BROKER = {
    "BROKER": "dramatiq.brokers.redis.RedisBroker",
    "OPTIONS": {
        "url": REDIS_URL,
        "namespace": env("DRAMATIQ_NAMESPACE", default="dramatiq"),
        # A worker silent in Redis for this long is taken for dead and its unfinished messages go back to the queue
        # (checked on a share of fetches, the maintenance chance, out of a million). A worker only busy rendering
        # may be taken for dead too: the copy that results is dropped by the job's own claim, never rendered twice.
        "heartbeat_timeout": env.int("DRAMATIQ_HEARTBEAT_TIMEOUT_MS", default=30_000),
        "maintenance_chance": env.int("DRAMATIQ_MAINTENANCE_CHANCE", default=20_000),
    },
    "MIDDLEWARE": [
        # First, so its after-hooks run last: a retry sent by Retries is still inside the failed message's span.
        "portal.jobs.trace_middleware.TraceContext",
        # Workers' message counts, durations and messages in progress, on port 9191 (see README "Metrics").
        "dramatiq.middleware.prometheus.Prometheus",
        "dramatiq.middleware.CurrentMessage",
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        # After Retries: a retry's new broker id is recorded too (the reconciler looks messages up by it).
        "portal.jobs.message_ids.RecordMessageIds",
        # Workers announce the backends they render, so a job for one no live worker offers is refused at once.
        "portal.jobs.worker_presence.WorkerPresence",
        # A stopping worker's renders finish, or go back to the queue before the process manager kills it.
        "portal.jobs.shutdown.HandBackOnShutdown",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
    ],
}

# --- Files -------------------------------------------------------------------------------------------------
# User files are private: they are served by views that check ownership (portal/storage.py), never from a
# public MEDIA_URL. MEDIA_STORAGE=s3 switches the same code to an S3-compatible bucket.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
# No URL route serves MEDIA_URL; it exists only because Django requires a value.
MEDIA_URL = "/media/"
MEDIA_STORAGE = env("MEDIA_STORAGE", default="filesystem")
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]

MEDIA_ORIGINS: list[str] = []
if MEDIA_STORAGE == "s3":
    _media_backend = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
        },
    }
    _endpoint = urlsplit(env("AWS_S3_ENDPOINT_URL", default="") or "https://s3.amazonaws.com")
    # Media are played from presigned URLs on the bucket's host: the pages may load them from there.
    MEDIA_ORIGINS = [f"{_endpoint.scheme}://{_endpoint.netloc}", f"{_endpoint.scheme}://*.{_endpoint.netloc}"]
elif MEDIA_STORAGE == "filesystem":
    _media_backend = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
else:
    raise environ.ImproperlyConfigured(f"MEDIA_STORAGE must be 'filesystem' or 's3', not {MEDIA_STORAGE!r}")

# Content-Security-Policy (django-csp): scripts, styles and everything else from our own origin only, no inline script
# or style; media may also come from the S3 bucket's presigned URLs; forms may lead on to Stripe's pages.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:", *MEDIA_ORIGINS],
        "media-src": ["'self'", "blob:", *MEDIA_ORIGINS],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com"],
    },
}

STORAGES = {
    "default": _media_backend,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Render jobs -------------------------------------------------------------------------------------------
# Audio longer than this is rendered in parts (split at pauses) that any worker may take, then joined.
SEGMENT_SECONDS = env.float("SEGMENT_SECONDS", default=60.0)
# A render (a whole job, a part, a join) whose worker has not heartbeaten for this long is taken for dead and queued
# again (or failed, with a refund). Workers heartbeat every quarter of it (at most every 15 s) from a thread of
# their own, however long a stage runs; waiting in a queue is never taken for dead.
JOB_HEARTBEAT_TIMEOUT = env.float("JOB_HEARTBEAT_TIMEOUT", default=120)
# A worker told to stop (SIGTERM) lets running renders finish for this long, then hands them back to the queue
# (portal/jobs/shutdown.py): keep it under the time the process manager waits before it kills (Kubernetes' default
# termination grace period is 30 s).
WORKER_SHUTDOWN_SECONDS = env.float("WORKER_SHUTDOWN_SECONDS", default=20)
# Queued work whose message is not in Redis this long after it was sent is sent again (a Redis restart loses them).
JOB_SEND_GRACE_SECONDS = env.float("JOB_SEND_GRACE_SECONDS", default=60)
# Render backends users may ask for. `builtin` runs on every worker's CPU; add `sonic` only where GPU workers with
# the Sonic checkout and weights run (non-commercial licence: README "Render engine").
RENDER_BACKENDS = env.list("RENDER_BACKENDS", default=["builtin"])
# Backends whose workers an autoscaler starts when their queue has work (KEDA with no replica while idle, as the GPU
# workers in deploy/ are): a job for one is taken with no worker running and waits while one starts. Any other
# backend that no live worker offers is refused at once.
RENDER_BACKENDS_STARTED_ON_DEMAND = env.list("RENDER_BACKENDS_STARTED_ON_DEMAND", default=[])
# How many of a lecture's parts wait in the queue at once (more are released as parts start): a short job sent
# behind a long lecture waits for at most this many of its parts.
PARTS_WAITING = env.int("PARTS_WAITING", default=2)
# Webhook URLs that resolve to private or loopback addresses are refused unless this is on (tests, intranets).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Signed download links for rendered videos expire after this many seconds (renewable from the job page).
DOWNLOAD_LINK_SECONDS = env.int("DOWNLOAD_LINK_SECONDS", default=3600)

# --- Course platforms (portal/lti/) --------------------------------------------------------------------------
# Who may show the LTI pages (launch, video chooser, a student's video) in a frame; every other page refuses to be
# framed. Any HTTPS site by default: a registered platform's pages live on school domains nobody lists in advance
# (Canvas's issuer is not the school's host), and each launch is signed by a registered platform anyway. A local
# Moodle over plain HTTP needs e.g. LTI_FRAME_ANCESTORS="'self',https:,http://localhost:*".
LTI_FRAME_ANCESTORS = env.list("LTI_FRAME_ANCESTORS", default=["'self'", "https:"])

# Uploads above this size are streamed to a temporary file instead of memory (lectures can be hundreds of MB).
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- Media library limits ----------------------------------------------------------------------------------
PORTRAIT_MAX_BYTES = env.int("PORTRAIT_MAX_BYTES", default=10 * 1024 * 1024)
PORTRAIT_MIN_SIDE = env.int("PORTRAIT_MIN_SIDE", default=192)
PORTRAIT_MAX_SIDE = env.int("PORTRAIT_MAX_SIDE", default=4096)
AUDIO_MAX_BYTES = env.int("AUDIO_MAX_BYTES", default=500 * 1024 * 1024)
AUDIO_MIN_SECONDS = env.float("AUDIO_MIN_SECONDS", default=0.3)
AUDIO_MAX_SECONDS = env.float("AUDIO_MAX_SECONDS", default=3 * 60 * 60)
# Uploads arrive in parts (tus, portal/library/upload/receive.py); the browser sends 8 MiB, a longer part is refused
# before its body is read. Every part but the last is at least the minimum, an upload has at most UPLOAD_PARTS_MAX
# (a 500 MB lecture in 1 MiB parts is 477) and at most UPLOAD_PART_REQUESTS_PER_MINUTE part requests a minute (the
# browser's 8 MiB parts at that rate would be 40 MiB/s).
UPLOAD_PART_MAX_BYTES = env.int("UPLOAD_PART_MAX_BYTES", default=16 * 1024 * 1024)
UPLOAD_PART_MIN_BYTES = env.int("UPLOAD_PART_MIN_BYTES", default=1024 * 1024)
UPLOAD_PARTS_MAX = env.int("UPLOAD_PARTS_MAX", default=1000)
UPLOAD_PART_REQUESTS_PER_MINUTE = env.int("UPLOAD_PART_REQUESTS_PER_MINUTE", default=300)
UPLOADS_UNFINISHED_MAX = env.int("UPLOADS_UNFINISHED_MAX", default=5)
UPLOADS_CHECKING_MAX = env.int("UPLOADS_CHECKING_MAX", default=20)
UPLOAD_ABANDONED_HOURS = env.int("UPLOAD_ABANDONED_HOURS", default=24)
UPLOAD_REFUSAL_KEPT_DAYS = env.int("UPLOAD_REFUSAL_KEPT_DAYS", default=7)
# A worker's check of an arrived upload whose message was lost is sent again after this, and refused after the other.
UPLOAD_CHECK_RESEND_SECONDS = env.int("UPLOAD_CHECK_RESEND_SECONDS", default=15 * 60)
UPLOAD_CHECK_GIVE_UP_SECONDS = env.int("UPLOAD_CHECK_GIVE_UP_SECONDS", default=60 * 60)
# Storage of the Free plan; paid plans' storage is in billing/plans.py.
STORAGE_QUOTA_BYTES = env.int("STORAGE_QUOTA_BYTES", default=2 * 1024**3)

# --- Accounts ----------------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "library:index"
ACCOUNT_ADAPTER = "portal.accounts.adapter.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="mandatory")
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Sonic Portal] "
# A second factor (authenticator app, recovery codes): anyone may turn it on; staff who can refund must
# (portal/support/second_factor.py).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Sonic Portal"
# Login limits count per client address. Behind proxies that each append the address they saw to X-Forwarded-For,
# the client is that many places from its right end (production: the one proxy the README asks for); 0 uses the
# connecting address. A count larger than the real number of proxies lets clients choose their own address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# allauth's defaults throttle failed logins per IP and per account; stated here so they are not lost by accident.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}

# --- Email -------------------------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Sonic Portal <noreply@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Billing (billing/) ------------------------------------------------------------------------------------
# With no Stripe keys billing is off: everyone is on the free plan and staff assign plans in admin.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Where billing/stripe_api.py sends requests (tests point it at a local server) and how old a signed webhook may be.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# A past_due subscription keeps its plan this long after the first failed payment (with a banner), then Free.
BILLING_PAST_DUE_GRACE_DAYS = env.int("BILLING_PAST_DUE_GRACE_DAYS", default=7)

# --- Tracing -----------------------------------------------------------------------------------------------
# The OpenTelemetry SDK reads the standard OTEL_* variables itself (OTEL_EXPORTER_OTLP_ENDPOINT,
# OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...); nothing is exported unless an endpoint is set.
OTEL_EXPORTER_OTLP_ENDPOINT = env("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
OTEL_SERVICE_NAME = env("OTEL_SERVICE_NAME", default="sonic-portal")
# The admin's "Open trace" link: TRACE_URL_TEMPLATE with {trace_id} filled in; when empty, Grafana Explore at
# GRAFANA_URL on the Tempo datasource whose uid is TEMPO_DATASOURCE_UID; with neither, the job's own timeline.
TRACE_URL_TEMPLATE = env("TRACE_URL_TEMPLATE", default="")
GRAFANA_URL = env("GRAFANA_URL", default="")
TEMPO_DATASOURCE_UID = env("TEMPO_DATASOURCE_UID", default="tempo")
# Links to a customer or subscription in the Stripe dashboard (support's user page).
STRIPE_DASHBOARD_URL = env("STRIPE_DASHBOARD_URL", default="https://dashboard.stripe.com")

# --- Metrics -----------------------------------------------------------------------------------------------
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>"; while it is empty the endpoint answers
# 404 like any unknown URL. Workers export theirs on Dramatiq's port instead (README "Metrics", portal/metrics.py).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- REST API (portal/api/) -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Keys for scripts (Authorization: Bearer); the session (with CSRF) for the portal's own pages.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.access.PlanIncludesApi"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.rate_limits.PlanRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sonic Portal API",
    "DESCRIPTION": "Talking-portrait videos from a photo and an audio clip. Authenticate with "
    "`Authorization: Bearer <key>` (make keys under your account). Every error is "
    '`{"error": {"code", "message", "field"?, "request_id"}}`; branch on `code`.',
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs' JavaScript and CSS come from drf-spectacular-sidecar, served with our static files (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}
# How long a POST's Idempotency-Key is remembered (at least a day, as Stripe does).
IDEMPOTENCY_KEY_HOURS = env.int("IDEMPOTENCY_KEY_HOURS", default=24)

# --- Misc --------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Each language needs a catalogue in locale/ (README "Languages and time zones"); zh-hans is Simplified Chinese.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates stay "9 Dec 2026" (portal/date_formats/en); other languages use Django's own formats ("2026年12月9日").
FORMAT_MODULE_PATH = ["portal.date_formats"]
# Stored and computed in UTC; each request shows times in the user's zone (portal/accounts/preferences.py).
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The browser's time zone, written by static/js/timezone.js (an IANA name such as "Asia/Shanghai").
TIME_ZONE_COOKIE_NAME = "tz"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"trace_ids": {"()": "portal.tracing.TraceIdsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s trace_id=%(trace_id)s span_id=%(span_id)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["trace_ids"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # The embedded PostgreSQL's wrapper logs every pg_ctl call it makes at INFO; its failures are WARNING and above.
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
