"""Settings for the shipment visibility portal, read from the environment.

Every setting that differs between machines comes from an environment variable,
documented in README.md. Without DATABASE_URL / REDIS_URL the project starts embedded
PostgreSQL and Redis servers (portal/embedded.py); SQLite is never used.
"""

from __future__ import annotations

import ipaddress
import os
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal import embedded

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # Secure by default: without DEBUG there is no development key to fall back on.
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random value (e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or DEBUG=1 for development on this machine."
        )
    SECRET_KEY = "insecure-development-key-change-me-" + "x" * 20
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# A failed CSRF check is the branded 403 (navigation, a way back), not Django's bare page.
CSRF_FAILURE_VIEW = "portal.error_views.csrf_failure"
# Reverse proxies (CIDRs) whose X-Forwarded-For names the client (accounts/addresses.py);
# empty: the header is ignored and the peer's address is the client's.
TRUSTED_PROXY_IPS = env_list("TRUSTED_PROXY_IPS", "")
for _cidr in TRUSTED_PROXY_IPS:
    ipaddress.ip_network(_cidr, strict=False)  # a typo stops the start, not a sign-in

# --- Databases and Redis ----------------------------------------------------------------

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
    DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.ensure_embedded_postgres()
    REDIS_URL = os.environ.get("REDIS_URL") or embedded.ensure_embedded_redis()

# Connections: Django keeps one per thread, so a server holds at most workers x threads
# (gunicorn.conf.py), each kept for DATABASE_CONN_MAX_AGE seconds; that product plus the
# Celery processes must stay under PostgreSQL's max_connections (docs/OPERATIONS.md,
# "Database connections"). Behind PgBouncer in transaction mode set DATABASE_CONN_MAX_AGE=0
# and DATABASE_DISABLE_SERVER_SIDE_CURSORS=1 (a named cursor cannot outlive a transaction
# that PgBouncer may run on another server connection).
_database = dj_database_url.parse(
    DATABASE_URL,
    conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    conn_health_checks=True,
)
if "host" in _database.get("OPTIONS", {}):  # Unix-socket URL (embedded PostgreSQL)
    _database["HOST"] = _database["OPTIONS"].pop("host")
_database.setdefault("OPTIONS", {})["connect_timeout"] = int(
    os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")
)
_database["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False)
DATABASES = {"default": _database}

# Read replicas (core/db_router.py, docs/OPERATIONS.md "Read replicas"): streaming replicas
# of the primary, as the aliases replica_1, replica_2, ... Page and API reads of the read
# models go to a healthy one; writes, transactions, workers and commands use the primary.
REPLICA_DATABASES: list[str] = []
for _number, _replica_url in enumerate(env_list("DATABASE_REPLICA_URLS", ""), start=1):
    _replica = dj_database_url.parse(
        _replica_url,
        conn_max_age=_database["CONN_MAX_AGE"],
        conn_health_checks=True,
    )
    if "host" in _replica.get("OPTIONS", {}):
        _replica["HOST"] = _replica["OPTIONS"].pop("host")
    _replica.setdefault("OPTIONS", {})["connect_timeout"] = _database["OPTIONS"]["connect_timeout"]
    _replica["DISABLE_SERVER_SIDE_CURSORS"] = _database["DISABLE_SERVER_SIDE_CURSORS"]
    # A test run with replicas configured reads its test database through them as well.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[f"replica_{_number}"] = _replica
    REPLICA_DATABASES.append(f"replica_{_number}")
DATABASE_ROUTERS = ["core.db_router.ReplicaRouter"]
# A replica further behind than this is skipped; its lag is read at most this often per
# process. An actor's reads stay on the primary this long after their own write: lag
# bound + check interval, so the replica they return to has replayed that write.
REPLICA_MAX_LAG_SECONDS = float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "5"))
REPLICA_LAG_CHECK_SECONDS = float(os.environ.get("REPLICA_LAG_CHECK_SECONDS", "2"))
REPLICA_PIN_SECONDS = float(
    os.environ.get("REPLICA_PIN_SECONDS", str(REPLICA_MAX_LAG_SECONDS + REPLICA_LAG_CHECK_SECONDS))
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _cache_url(broker_url: str) -> str:
    """The cache uses its own Redis database (1), so clearing it never touches the queues."""
    if broker_url.startswith("redis+socket://"):
        return "unix://" + broker_url.removeprefix("redis+socket://") + "?db=1"
    scheme, _, rest = broker_url.partition("://")
    address = rest.split("/", 1)[0]
    return f"{scheme}://{address}/1"


_cache_location = os.environ.get("CACHE_REDIS_URL") or _cache_url(REDIS_URL)
CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _cache_location,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "portal"),
    }
}

# --- Applications -----------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files (no CDN)
    "guardian",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "strawberry_django",
    "csp",
    "accounts",
    "integration",
    "visibility",
    "portal",
]

MIDDLEWARE = [
    # Outermost: times the whole answer (portal_http_* metrics) and sets X-Request-ID.
    "portal.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # API JSON only, after its ETag is set (portal/middleware.py says why not pages).
    "portal.middleware.ApiCompressionMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.security_headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Problems for every API failure, ETag/304, RateLimit-* headers.
    "portal.middleware.ApiResponseMiddleware",
    "portal.middleware.UnusableRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Page and API reads of the read models from a replica, when there are replicas.
    "portal.replicas.ReplicaReadMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.StandingPerRequestMiddleware",
    "portal.middleware.UserTimeZoneMiddleware",
    "accounts.middleware.InactiveTenantSignOutMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.middleware.DatabaseUnavailableMiddleware",
    "portal.middleware.ApiExceptionMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.context_processors.finance",
                "portal.context_processors.standing",
                "portal.context_processors.navigation",
            ]
        },
    }
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# The issuer authenticator apps show next to the account (django-otp TOTP devices).
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Shipment portal")
# How long a password-reset link works (it also stops once the password changes).
PASSWORD_RESET_TIMEOUT = int(float(os.environ.get("PASSWORD_RESET_TIMEOUT_HOURS", "2")) * 3600)
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Security ---------------------------------------------------------------------------

# Behind a proxy that terminates TLS (BEHIND_TLS_PROXY=1): trust its X-Forwarded-Proto,
# redirect plain HTTP to HTTPS and send HSTS. `manage.py check --deploy` is clean with
# DEBUG=0 and BEHIND_TLS_PROXY=1 (tests/portal/test_deploy_settings.py).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", BEHIND_TLS_PROXY)
# The health check is answered on plain HTTP: load balancers and container probes call it.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(
    os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600 if BEHIND_TLS_PROXY else 0))
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Preloading commits the whole domain to HTTPS in browsers for months: the domain's
# owner decides (SECURE_HSTS_PRELOAD=1), so the check that asks for it is silenced.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", BEHIND_TLS_PROXY or not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", BEHIND_TLS_PROXY or not DEBUG)
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_COOKIE_AGE", str(8 * 3600)))
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features no page of the portal uses (portal/security_headers.py sends it).
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)

# Content-Security-Policy (django-csp): every script and style comes from the portal's own
# static files. A template that must inline a script or style marks it with
# `nonce="{{ request.csp_nonce }}"`; the nonce is added to the header only for responses
# that use it (docs/OPERATIONS.md, "Content-Security-Policy").
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Internationalisation, static, media -------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(BASE_DIR / ".local" / "media")))
MEDIA_URL = "media/"
# Static files are served by whitenoise from STATIC_ROOT (collectstatic: the image build,
# `make demo`) under names that carry a hash of their content, so they are cached for a
# year. STATIC_MANIFEST=0 keeps plain names, for runs without collectstatic (the tests).
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", True)
# Stored files (documents; anything written through `default_storage`): local disk under
# MEDIA_ROOT, or with S3_BUCKET set an S3-compatible bucket (AWS S3, MinIO, ...) that every
# web and worker host reaches (django-storages; docs/OPERATIONS.md, "Files"). Files are
# served through the portal, never by a bucket URL: reads are scoped and audited, and
# their SHA-256 is checked before a byte is sent (core/files.py).
S3_BUCKET = os.environ.get("S3_BUCKET", "")
_default_storage: dict[str, Any] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            # Empty: AWS S3 itself; MinIO or another S3-compatible server: its URL.
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("S3_REGION", "us-east-1"),
            # Unset: boto3's own chain (instance role, AWS_* variables, ~/.aws).
            "access_key": os.environ.get("S3_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or None,
            # MinIO and most self-hosted servers answer path-style URLs only.
            "addressing_style": os.environ.get("S3_ADDRESSING_STYLE", "path"),
            "signature_version": "s3v4",
            "location": os.environ.get("S3_PREFIX", ""),
            "default_acl": None,  # the bucket's policy decides; objects stay private
            "file_overwrite": True,  # names are content addresses: same name, same bytes
        },
    }
# Archived inbox and rejected events (integration/services/archive.py, core/archive_files.py):
# local disk under ARCHIVE_ROOT, or under `archive/` in the same bucket when S3_BUCKET is set.
ARCHIVE_ROOT = Path(os.environ.get("ARCHIVE_ROOT") or MEDIA_ROOT / "archive")
_archive_storage: dict[str, Any] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": ARCHIVE_ROOT},
}
if S3_BUCKET:
    _archive_storage = {
        "BACKEND": _default_storage["BACKEND"],
        "OPTIONS": {
            **_default_storage["OPTIONS"],
            "location": "/".join(
                part for part in (os.environ.get("S3_PREFIX", ""), "archive") if part
            ),
        },
    }
STORAGES = {
    "default": _default_storage,
    "archive": _archive_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# --- Email --------------------------------------------------------------------------------

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "portal@localhost")
# Links in emails point at the port the portal runs on (`PORT`, as `make demo` uses it).
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL") or (
    f"http://localhost:{os.environ.get('PORT', '8000')}"
)
INVITATION_TTL = timedelta(days=float(os.environ.get("INVITATION_TTL_DAYS", "7")))
# Webhooks may call private and loopback addresses only when the operator allows it.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)

# --- REST framework -------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "portal.api_errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # OPTIONS answers 405: the OpenAPI document describes the API (DRF's metadata would
    # show the intake's description to anyone).
    "DEFAULT_METADATA_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.PartnerTokenRateThrottle"],
}
# Units per window for each partner token (accounts/throttling.py, docs/API.md).
API_TOKEN_RATE = os.environ.get("API_TOKEN_RATE", "1200/min")

# The OpenAPI document (docs/openapi.yaml, `make openapi`): served at /api/v1/schema,
# Swagger UI at /api/docs/, Redoc at /api/redoc/, from local static files.
API_VERSION = "1.0.0"
SPECTACULAR_SETTINGS = {
    "TITLE": "Shipment visibility portal API",
    "VERSION": API_VERSION,
    "DESCRIPTION": (
        "Orders, shipments, milestones, documents and invoices of the caller's customer "
        "accounts, and the change feed to mirror them. Authenticate with a partner token "
        "(`Authorization: Bearer svp_...`) or a browser session. Every failure is an RFC "
        "9457 problem (`application/problem+json`); reads carry `ETag` and answer `304` to "
        "`If-None-Match`; token answers carry `RateLimit-*` headers. Versioning, deprecation "
        "and the error types: docs/API.md; changes: docs/API-CHANGELOG.md."
    ),
    "SERVERS": [{"url": "/", "description": "this portal"}],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SORT_OPERATIONS": False,
    "ENUM_NAME_OVERRIDES": {
        "ShipmentStatusEnum": "visibility.models.ShipmentStatus",
        "InvoiceStatusEnum": "visibility.models.Invoice.Status",
        "ExceptionStatusEnum": "visibility.models.ShipmentException.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "sourceToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A source system's token (manage.py create_source); intake only.",
            }
        }
    },
    "TAGS": [
        {"name": "shipments", "description": "Shipments, their milestones, ETAs and charges."},
        {"name": "orders", "description": "Orders and their lines and shipments."},
        {"name": "invoices", "description": "Invoices (the `invoices` scope)."},
        {"name": "documents", "description": "Document files (the `documents` scope)."},
        {"name": "exceptions", "description": "Open shipment exceptions."},
        {"name": "changes", "description": "The change feed, to mirror and stay in sync."},
        {"name": "intake", "description": "Event intake for source systems."},
        {"name": "operations", "description": "The operator's own figures."},
    ],
}

# --- Celery -----------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing is a wake-up only (the inbox row is the data): never block intake on Redis.
CELERY_TASK_PUBLISH_RETRY = False
# `max_retries: 0`: one attempt to (re)connect before a publish, not kombu's retries for
# up to the connection timeout (4 s) with 2 s pauses: with Redis down every intake
# request took 6 s (tests/integration/test_fault_restarts.py). The worker's consumer
# reconnects with its own retry policy (broker_connection_max_retries), untouched.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 0,
}
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.LOCAL_DIR / "celerybeat-schedule")
INBOX_SWEEP_SECONDS = float(os.environ.get("INBOX_SWEEP_SECONDS", "5"))
# How often beat numbers committed change-feed rows (readers also do it as they read).
CHANGE_STAMP_SECONDS = float(os.environ.get("CHANGE_STAMP_SECONDS", "5"))
# Change-feed retention (visibility/services/changes.py, changes_prune; docs/API.md): rows
# older than this many days are pruned, every CHANGE_PRUNE_SECONDS; a cursor older than
# the pruned positions is answered 410 Gone (resync).
CHANGE_RETENTION_DAYS = float(os.environ.get("CHANGE_RETENTION_DAYS", "30"))
CHANGE_PRUNE_SECONDS = float(os.environ.get("CHANGE_PRUNE_SECONDS", "3600"))
# Tables that stay small (docs/OPERATIONS.md, "Archive and retention"): processed inbox rows
# and rejected events received more than this many days ago are archived to files and
# deleted, every ARCHIVE_SWEEP_SECONDS. The inbox's duplicate detection reaches back as far.
INBOX_ARCHIVE_AFTER_DAYS = float(os.environ.get("INBOX_ARCHIVE_AFTER_DAYS", "30"))
REJECTED_ARCHIVE_AFTER_DAYS = float(
    os.environ.get("REJECTED_ARCHIVE_AFTER_DAYS", str(INBOX_ARCHIVE_AFTER_DAYS))
)
ARCHIVE_SWEEP_SECONDS = float(os.environ.get("ARCHIVE_SWEEP_SECONDS", "3600"))
# Closed (delivered or cancelled) shipments quiet for longer than this are deleted with their
# history, unless the tenant sets its own (Tenant.closed_shipment_retention_days); checked
# every RETENTION_SWEEP_SECONDS.
CLOSED_SHIPMENT_RETENTION_DAYS = int(os.environ.get("CLOSED_SHIPMENT_RETENTION_DAYS", "730"))
RETENTION_SWEEP_SECONDS = float(os.environ.get("RETENTION_SWEEP_SECONDS", "86400"))
INBOX_BATCH_SIZE = int(os.environ.get("INBOX_BATCH_SIZE", "4000"))
INBOX_MAX_ATTEMPTS = int(os.environ.get("INBOX_MAX_ATTEMPTS", "5"))
# Projection lanes (integration/services/processing.py): a batch projects the events of one
# lane, so up to this many batches project at once. More lanes than worker processes keeps
# a worker from waiting for a busy lane.
INBOX_LANES = max(1, int(os.environ.get("INBOX_LANES", "16")))
# Contract 1.1: an event's occurred_at may be at most this far after its receipt (clock skew).
EVENTS_MAX_CLOCK_SKEW_HOURS = float(os.environ.get("EVENTS_MAX_CLOCK_SKEW_HOURS", "24"))
# Clock-driven states (visibility/services/clock.py, docs/OPERATIONS.md): how often beat
# re-evaluates due shipments, how many per statement, and the thresholds.
CLOCK_SWEEP_SECONDS = float(os.environ.get("CLOCK_SWEEP_SECONDS", "60"))
CLOCK_SWEEP_BATCH = int(os.environ.get("CLOCK_SWEEP_BATCH", "2000"))
TRACKING_STALE_HOURS = {
    "parcel": float(os.environ.get("TRACKING_STALE_HOURS_PARCEL", "24")),
    "ltl": float(os.environ.get("TRACKING_STALE_HOURS_LTL", "12")),
    "ftl": float(os.environ.get("TRACKING_STALE_HOURS_FTL", "12")),
    "ocean": float(os.environ.get("TRACKING_STALE_HOURS_OCEAN", "72")),
}
TRACKING_STALE_HOURS_DEFAULT = float(os.environ.get("TRACKING_STALE_HOURS_DEFAULT", "24"))
POD_MISSING_HOURS = float(os.environ.get("POD_MISSING_HOURS", "24"))
NOT_INVOICED_DAYS = float(os.environ.get("NOT_INVOICED_DAYS", "3"))
# Business service levels (visibility/service_levels.py, docs/OPERATIONS.md "Business
# SLAs"): past these ages an item breaches its SLA, which raises an alert on the
# operations page and `portal_sla_alert` in /metrics.
SLA_ORDER_TO_SHIPMENT_HOURS = float(os.environ.get("SLA_ORDER_TO_SHIPMENT_HOURS", "48"))
SLA_MILESTONE_FRESHNESS_HOURS = float(os.environ.get("SLA_MILESTONE_FRESHNESS_HOURS", "24"))
SLA_EXCEPTION_AGE_HOURS = float(os.environ.get("SLA_EXCEPTION_AGE_HOURS", "48"))
SLA_DELIVERED_NOT_INVOICED_DAYS = float(os.environ.get("SLA_DELIVERED_NOT_INVOICED_DAYS", "7"))
# At most this many tenants get series of their own in /metrics (those with the most
# breaches); the rest are added up under tenant="other", so the label set stays bounded.
SLA_METRICS_MAX_TENANTS = int(os.environ.get("SLA_METRICS_MAX_TENANTS", "50"))
# How often beat records, for the change feed, the unpaid invoices whose due date passed
# (an invoice's overdue status is derived when read; nothing else writes it).
INVOICE_OVERDUE_SWEEP_SECONDS = float(os.environ.get("INVOICE_OVERDUE_SWEEP_SECONDS", "600"))

# JSON lines (core/logs.py) in production; `text` for people reading a terminal (the demo
# and the tests set it). Default: json unless DEBUG.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "core.logs.JsonFormatter"},
        "text": {
            "()": "core.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        # Celery reports every task received and succeeded at INFO (beat runs some every
        # 5 s): WARNING unless CELERY_LOG_LEVEL says otherwise.
        "celery": {"level": os.environ.get("CELERY_LOG_LEVEL", "WARNING")},
    },
}

# `/metrics` (portal/metrics_views.py) answers only `Authorization: Bearer <METRICS_TOKEN>`;
# unset, it does not exist (404).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
