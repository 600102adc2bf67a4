"""dnoctl settings. Embedded mode when nothing is set (SQLite, in-process worker, in-memory
layers); production when ``DATABASE_URL``/``REDIS_URL`` are set, with secrets required from the
environment. Every knob is read once through typed readers, so a wrong value fails at start-up
naming the variable."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# --- typed environment readers ---------------------------------------------------------


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value if value else default


def env_bool(name: str, default: bool) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_float(name: str, default: float) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env_str(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_command_budget(name: str, default: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """``7.6=2000/h,20000/d;7.8=2000/h`` -> ``{"7.6": {"hour": 2000, "day": 20000}, "7.8": {"hour": 2000}}``."""
    value = env_str(name)
    if value is None:
        return default
    periods = {"h": "hour", "d": "day"}
    budget: dict[str, dict[str, int]] = {}
    for part in filter(None, (p.strip() for p in value.split(";"))):
        srv, _, limits = part.partition("=")
        try:
            entries = [limit.strip().split("/") for limit in limits.split(",")]
            budget[srv.strip()] = {periods[period]: int(count) for count, period in entries}
        except (KeyError, ValueError):
            raise ImproperlyConfigured(
                f"{name} must look like 7.6=2000/h,20000/d;7.8=2000/h (commands per hour or day), got {part!r}"
            ) from None
        if not srv.strip() or any(count < 1 for count in budget[srv.strip()].values()):
            raise ImproperlyConfigured(f"{name}: every SRV needs a name and positive limits, got {part!r}")
    return budget


# --- mode --------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
PRODUCTION = bool(DATABASE_URL or REDIS_URL)
RUN_MODE = "production" if PRODUCTION else "embedded"

if PRODUCTION:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY")
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DATABASE_URL/REDIS_URL are set")
    if not (DATABASE_URL and REDIS_URL):
        raise ImproperlyConfigured("production mode needs both DATABASE_URL and REDIS_URL")
    DEBUG = env_bool("DJANGO_DEBUG", False)
else:
    # The embedded demo runs on a laptop with no secrets to protect; a fixed key keeps
    # sessions valid across restarts of the demo.
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", "embedded-demo-only-not-secret-" + "x" * 40)
    # Off by default: the demo shows what production shows (the dashboard's own error
    # pages, hashed and cached static files), not Django's debug pages.
    DEBUG = env_bool("DJANGO_DEBUG", False)

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS hardening: on in production unless explicitly switched off (the test harness does,
# because it talks plain HTTP on loopback; a TLS-terminating proxy sets the forwarded proto).
HTTPS = env_bool("DNOCTL_HTTPS", PRODUCTION)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("DNOCTL_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp, dnoctl.csp): only what we serve runs, styles or is
# fetched; no inline script or style anywhere (Plotly is served from static/vendor/, the
# API docs' Swagger UI from django-ninja's static files, see dnoctl.api for its policy).
# connect-src also gets the page's own ws(s)://host for the live updates.
EMPTY_STYLE_ELEMENT = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"  # sha256 of ""
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        # Plotly adds its own CSS rules through the CSSOM into a <style> element it makes
        # empty; the hash of the empty string allows that element and nothing else.
        "style-src": [CSP_SELF, EMPTY_STYLE_ELEMENT],
        "img-src": [CSP_SELF],
        "font-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "form-action": [CSP_SELF],
        "frame-ancestors": [CSP_NONE],
    }
}

# --- applications ------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "ninja",  # the APIs' schema and docs; Swagger UI's files are served from the package
    "csp",  # the Content-Security-Policy header (dnoctl.csp)
    "axes",  # failed logins counted and locked out (accounts.lockout)
    "core",  # the bottom layer: audit trail, roles, pushes, time helpers
    "accounts",
    "feeders",
    "dcc",
    "consent",
    "curtailment",
    "reports",  # the top layer of the domain: nothing imports it
    "dnoctl",  # the project: demo and simulator commands, which may use every app
]

MIDDLEWARE = [
    # First, so it sees every reply: any failure under /api/ is answered as JSON.
    "dnoctl.api_errors.ApiErrorsAsJsonMiddleware",
    # Every audit entry a request writes carries its id (answered in X-Request-ID).
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise: static files need no policy, the pages and their errors do.
    "dnoctl.csp.DashboardCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dnoctl.middleware.LoginRequiredEverywhereMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns axes' lockout of a login into its locked-out page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dnoctl.urls"
ASGI_APPLICATION = "dnoctl.asgi.application"

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
                "dnoctl.context_processors.roles",
            ],
        },
    },
]

# --- stores ------------------------------------------------------------------------------

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...)")
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    SQLITE_PATH = Path(env_str("DNOCTL_SQLITE_PATH", str(BASE_DIR / "var" / "dnoctl.sqlite3")))
    # SQLite creates the file but not its folder, and a fresh clone has no var/: without
    # this, the first `manage.py migrate` fails with "unable to open database file".
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # WAL lets the web threads read while the in-process worker writes;
                # IMMEDIATE transactions take the write lock up front instead of failing
                # with "database is locked" half-way through.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=15000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 15,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    from redis.asyncio.retry import Retry as AsyncRedisRetry
    from redis.backoff import ExponentialWithJitterBackoff

    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # The layer waits on Redis with a blocking pop of up to 5 s;
                        # redis-py's default 5 s socket timeout would cut that wait and
                        # close idle WebSockets.
                        "socket_timeout": 30,
                        # redis-py's asyncio client does not retry by default: after a Redis
                        # restart the pool's dead connections failed the next command, and
                        # the first WebSocket to connect got a 500. A retry reconnects.
                        "retry": AsyncRedisRetry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), 3),
                    }
                ],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Celery ------------------------------------------------------------------------------

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None  # results are written to the database by the services
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Redis: a task whose worker died is redelivered after the visibility timeout. Memory: poll
# often, the in-process queue is cheap to look at and the demo should feel live.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 300} if REDIS_URL else {"polling_interval": 0.05}
# kombu's Redis transport with the fix that keeps a worker alive across a Redis restart
# (see dnoctl/broker.py).
CELERY_BROKER_TRANSPORT = "dnoctl.broker:Transport" if REDIS_URL else None
# A worker waits for the broker as long as it takes, at start-up and after losing it: a
# worker that gives up stops every dispatch, re-check and release until someone notices.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Beat writes its heartbeat on every tick (dnoctl/liveness.py); it ticks at least this often.
CELERY_BEAT_SCHEDULER = "dnoctl.liveness:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 10
CELERY_BEAT_SCHEDULE: dict = {}  # filled by each app's tasks module through dnoctl.celery
# Celery's Django fix-up closes every database connection around each task unless this is
# set, so each task would pay for a new PostgreSQL backend; Django's own rules
# (CONN_MAX_AGE, CONN_HEALTH_CHECKS) tidy them around each task instead (dnoctl.celery).
CELERY_DB_REUSE_MAX = 1000

# --- auth --------------------------------------------------------------------------------

# axes' backend first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Failed logins are counted per username and client address together, so one person
# mistyping does not lock out a shared control-room account elsewhere. Behind a proxy,
# run uvicorn with --forwarded-allow-ips so REMOTE_ADDR is the client's address.
AXES_FAILURE_LIMIT = env_int("DNOCTL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("DNOCTL_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "accounts.lockout.AuditedAxesHandler"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ADMIN = False  # accounts.admin registers the tables with an audited unlock
AXES_VERBOSE = False
# Sessions are set by role at login (accounts.sessions): a control-room session lasts a
# shift whatever the activity, so a console left logged in does not carry one person's
# authority into the next shift. This caps the rest, and is viewers' idle limit.
SESSION_COOKIE_AGE = env_int("DNOCTL_SESSION_HOURS", 12) * 3600

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- time and language -------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
USE_I18N = False
USE_TZ = True  # stored in UTC
TIME_ZONE = "Europe/London"  # shown in the control room's wall-clock time

# --- static files ------------------------------------------------------------------------

STATIC_URL = "/static/"
# collectstatic writes here: `manage.py run_embedded` runs it at start-up, a production
# deployment runs it once per release, the tests once per session into a temporary folder.
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
# Plotly.js is vendored under static/vendor/plotly/ (see its README), never a CDN:
# control rooms are often offline.
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (css/dnoctl.1a2b3c4d5e6f.css) let WhiteNoise send static files
    # with a ten-year `immutable` max-age, and it stores brotli and gzip copies beside
    # each, so a first load transfers a fraction of the bytes and a second almost none.
    "staticfiles": {"BACKEND": "dnoctl.staticfiles.DashboardStaticFilesStorage"},
}
# Pages link only the hashed names; dropping the plain copies halves what is compressed.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# With DEBUG on, Django links the plain names and WhiteNoise serves them from the finders
# (its defaults follow DEBUG), so a developer can edit static files without collectstatic.

# --- email -------------------------------------------------------------------------------

EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if PRODUCTION else "django.core.mail.backends.locmem.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "network-operations@dno.example")

# --- domain ------------------------------------------------------------------------------

DNOCTL = {
    # NF11 / NF12: at most 120 curtailed minutes in any rolling 24 h, 480 in any 30 days.
    "LIMIT_24H_MINUTES": 120,
    "LIMIT_30D_MINUTES": 480,
    # A charger whose remaining allowance is below this is skipped: a 2-minute switch-off
    # costs a DCC round trip and helps nobody.
    "MIN_USEFUL_MINUTES": env_int("DNOCTL_MIN_USEFUL_MINUTES", 10),
    # An APC charger limited by the engine keeps at least this many kW (s14a EnWG's 4.2 kW;
    # docs/apc.md): throttling goes no lower, and HCALCS are switched off for the rest.
    "APC_GUARANTEED_MIN_KW": env_float("DNOCTL_APC_GUARANTEED_MIN_KW", 4.2),
    # Seconds a device has to confirm a 7.6 before the action is marked late (NF13: 30 s).
    "CONFIRMATION_TIMEOUT_S": env_int("DNOCTL_CONFIRMATION_TIMEOUT_S", 30),
    # Minutes without a reading before a feeder is shown offline rather than healthy.
    "OFFLINE_AFTER_MINUTES": env_int("DNOCTL_OFFLINE_AFTER_MINUTES", 5),
    # Feeder readings are kept this many days (whole UTC days; feeders/services/retention.py).
    "READINGS_RETENTION_DAYS": env_int("DNOCTL_READINGS_RETENTION_DAYS", 92),
    # Above this many feeders the overview's network view draws a cell only for feeders that
    # are not normal and counts the rest (a cell each made a 5,000-feeder overview 1 MiB).
    "NETWORK_CELLS_MAX": env_int("DNOCTL_NETWORK_CELLS_MAX", 1000),
    # Readings older than this do not raise new alerts (backfill).
    "BACKFILL_AFTER_MINUTES": env_int("DNOCTL_BACKFILL_AFTER_MINUTES", 5),
    # Hysteresis: how long a feeder must stay below its clear level before the alert clears.
    "CLEAR_HOLD_MINUTES": env_int("DNOCTL_CLEAR_HOLD_MINUTES", 5),
    # Margin added to the required reduction (fraction of the excess load).
    "REDUCTION_MARGIN": env_float("DNOCTL_REDUCTION_MARGIN", 0.1),
    "DEFAULT_EVENT_MINUTES": env_int("DNOCTL_DEFAULT_EVENT_MINUTES", 60),
    # The most minutes one action holds a charger off in a long event before others take over.
    "ROTATION_MINUTES": env_int("DNOCTL_ROTATION_MINUTES", 60),
    # Replacements are dispatched this long before an action ends (make before break: the
    # re-check runs every minute and a device has CONFIRMATION_TIMEOUT_S to confirm).
    "ROTATION_LEAD_S": env_int("DNOCTL_ROTATION_LEAD_S", 120),
    # After an operator cancels an automatic event, the engine opens another for the same
    # alert only once this long has passed and the load is at the at-risk level again.
    "CANCEL_HOLD_OFF_MINUTES": env_int("DNOCTL_CANCEL_HOLD_OFF_MINUTES", 5),
    # Time-to-failure clock (curtailment/clock.py): a feeder over its rating is taken to blow
    # its fuse this many minutes later (the low end of the PIA's 5-10 minutes).
    "FUSE_MARGIN_MINUTES": env_float("DNOCTL_FUSE_MARGIN_MINUTES", 5.0),
    # Escalation: the longest one stage waits for confirmed relief when the clock leaves time.
    "ESCALATION_MAX_WAIT_S": env_int("DNOCTL_ESCALATION_MAX_WAIT_S", 120),
    # The DCC quarantines a user's commands above its anomaly detection thresholds (ADT):
    # commands per SRV per hour and per day, planned under and alarmed at ALARM_PERCENT.
    "DCC_BUDGET": env_command_budget(
        "DNOCTL_DCC_BUDGET",
        {
            "7.6": {"hour": 2000, "day": 20000},
            "7.8": {"hour": 2000, "day": 20000},
            "7.9": {"hour": 2000, "day": 20000},
            "7.7": {"hour": 1000, "day": 10000},
        },
    ),
    "DCC_BUDGET_ALARM_PERCENT": env_float("DNOCTL_DCC_BUDGET_ALARM_PERCENT", 80.0),
    # A charger whose customer may override but whose 7.9 (add to the boost button) failed is
    # not curtailed (another is picked) unless this allows it; its notice then says so.
    "CURTAIL_WITHOUT_BOOST": env_bool("DNOCTL_CURTAIL_WITHOUT_BOOST", False),
    # /healthz answers 503 when the worker or beat has not been seen for this long (each
    # beats every 10 s while alive and connected: see dnoctl/liveness.py).
    "HEARTBEAT_STALE_S": env_int("DNOCTL_HEARTBEAT_STALE_S", 60),
    # How long an operator's or engineer's login lasts, from the login (accounts.sessions).
    "CONTROL_SESSION_HOURS": env_int("DNOCTL_CONTROL_SESSION_HOURS", 12),
}

# ASP call-offs over OpenADR 3 (NF14): dnoctl's VTN and how long a provider has to deliver.
# See docs/asp-openadr.md.
OPENADR = {
    # Seconds a provider has to report the delivery of a call-off before chargers cover it.
    # Well inside the 5-10 minutes from alert to failure: chargers need ~30 s after it (NF13).
    "CONFIRM_S": env_int("DNOCTL_ASP_CONFIRM_S", 90),
    # A report older than this confirms nothing: delivery must go on being reported.
    "REPORT_FRESH_S": env_int("DNOCTL_ASP_REPORT_FRESH_S", 120),
    # How often the worker looks at live call-offs (deadlines passed, reports gone stale).
    "CHECK_S": env_float("DNOCTL_ASP_CHECK_S", 10.0),
    # Lifetime of the bearer token a VEN gets from /auth/token.
    "TOKEN_TTL_S": env_int("DNOCTL_OPENADR_TOKEN_TTL_S", 3600),
}

# The DCC connection. In embedded mode and in tests it points at the in-process simulator.
# A DCC user has separate keys: one signs DUIS XML, a GBCS one signs pre-commands, and a GBCS
# key-agreement one checks devices' MACs. Unset key paths mean the development identities in
# DCC_KEY_DIR (see dcc/config.py, docs/dcc-boxed.md).
for _renamed, _instead in {
    "DCC_USER_KEY_PATH": "DCC_USER_XML_KEY_PATH and DCC_USER_GBCS_KEY_PATH",
    "DCC_USER_CERT_PATH": "DCC_USER_XML_CERT_PATH and DCC_USER_GBCS_CERT_PATH",
    "DCC_CERT_PATH": "DCC_TRUSTED_CERT_PATHS (a comma-separated list)",
}.items():
    if env_str(_renamed):
        raise ImproperlyConfigured(f"{_renamed} is no longer read: set {_instead}")

DCC = {
    "BASE_URL": env_str("DCC_BASE_URL", "http://127.0.0.1:8079"),
    # DCC Boxed's network operator (an Electricity Distributor) unless told otherwise.
    "ORIGINATOR_EUI64": env_str("DCC_ORIGINATOR_EUI64", "90-B3-D5-1F-30-02-00-00"),
    "USER_ROLE": env_str("DCC_USER_ROLE", "ED"),
    "KEY_DIR": Path(env_str("DCC_KEY_DIR", str(BASE_DIR / "var" / "keys"))),
    "XML_KEY_PATH": env_str("DCC_USER_XML_KEY_PATH"),
    "XML_CERT_PATH": env_str("DCC_USER_XML_CERT_PATH"),
    "GBCS_KEY_PATH": env_str("DCC_USER_GBCS_KEY_PATH"),
    "GBCS_CERT_PATH": env_str("DCC_USER_GBCS_CERT_PATH"),
    "GBCS_KA_KEY_PATH": env_str("DCC_USER_GBCS_KA_KEY_PATH"),
    "GBCS_KA_CERT_PATH": env_str("DCC_USER_GBCS_KA_CERT_PATH"),
    "DCC_CERT_PATHS": env_list("DCC_TRUSTED_CERT_PATHS", []),
    # The simulator's own signing identity (development and tests only).
    "SIMULATOR_KEY_PATH": env_str("DCC_SIMULATOR_KEY_PATH"),
    "SIMULATOR_CERT_PATH": env_str("DCC_SIMULATOR_CERT_PATH"),
    # Local delivery (PPMID/HHT, seed 004): "" none (WAN only), "simulator" (its stand-in PPMID).
    "LOCAL_DELIVERY": env_str("DCC_LOCAL_DELIVERY", ""),
    "TLS_CLIENT_CERT_PATH": env_str("DCC_TLS_CLIENT_CERT_PATH"),
    "TLS_CLIENT_KEY_PATH": env_str("DCC_TLS_CLIENT_KEY_PATH"),
    "TLS_CA_PATH": env_str("DCC_TLS_CA_PATH"),
    "TIMEOUT_S": env_float("DCC_TIMEOUT_S", 5.0),
    # A request still unacknowledged, or acknowledged with no device answer, this long is
    # timed out (dcc.tasks.service_requests_expire); a later answer is still applied.
    "SEND_DEADLINE_S": env_float("DCC_SEND_DEADLINE_S", 600.0),
    "RESPONSE_DEADLINE_S": env_float("DCC_RESPONSE_DEADLINE_S", 1800.0),
    "CALLBACK_URL": env_str("DCC_CALLBACK_URL", "http://127.0.0.1:8000/dcc/responses/"),
    # Optional runtime check of every emitted document against the DUIS 5.4 XSD. The
    # schema is the DCC's and is not shipped in this repository.
    "SCHEMA_PATH": env_str("DCC_SCHEMA_PATH"),
}

# --- logging -----------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_errors_without_traceback": {"()": "dnoctl.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors_without_traceback"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DNOCTL_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers (its DEBUG-only console, mail_admins with no ADMINS) are
        # dropped: its records reach the root handler above once, through its filter.
        "django": {"handlers": [], "level": "INFO"},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # each failure and lockout, not its housekeeping
    },
}
