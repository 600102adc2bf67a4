"""Settings choose PostgreSQL and Redis from the environment, the embedded stack without it."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "mode": settings.RUN_MODE,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "broker": settings.CELERY_BROKER_URL,
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "cache": settings.CACHES["default"]["BACKEND"],
}))
"""


def _settings_with(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY"}}
    clean.update(env, DJANGO_SETTINGS_MODULE="dnoctl.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup();" + PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_embedded_defaults_without_environment():
    done = _settings_with({})
    assert done.returncode == 0, done.stderr
    chosen = json.loads(done.stdout)
    assert chosen == {
        "mode": "embedded",
        "engine": "django.db.backends.sqlite3",
        "broker": "memory://",
        "layer": "channels.layers.InMemoryChannelLayer",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
    }


def test_production_picks_postgresql_and_redis_from_environment():
    done = _settings_with(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5432/dnoctl",
            "REDIS_URL": "redis://cache.example:6379/0",
            "DJANGO_SECRET_KEY": "k" * 60,
        }
    )
    assert done.returncode == 0, done.stderr
    chosen = json.loads(done.stdout)
    assert chosen["mode"] == "production"
    assert chosen["engine"] == "django.db.backends.postgresql"
    assert chosen["broker"] == "redis://cache.example:6379/0"
    assert chosen["layer"] == "channels_redis.core.RedisChannelLayer"
    assert chosen["cache"] == "django.core.cache.backends.redis.RedisCache"


def test_production_without_secret_key_is_refused():
    done = _settings_with({"DATABASE_URL": "postgres://u@h/d", "REDIS_URL": "redis://h:6379/0"})
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY" in done.stderr


def test_bad_boolean_names_the_variable():
    done = _settings_with({"DJANGO_DEBUG": "maybe"})
    assert done.returncode != 0
    assert "DJANGO_DEBUG" in done.stderr


def test_check_deploy_passes_with_production_settings():
    # A deployment sets neither of these: the harness's plain-HTTP switch, nor the async
    # guard the browser tests lift for their own thread.
    env = {k: v for k, v in os.environ.items() if k not in {"DNOCTL_HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(
        DATABASE_URL=os.environ.get("DATABASE_URL", "postgres://u:p@127.0.0.1:1/dnoctl"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:1/0"),
        DJANGO_SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        DJANGO_ALLOWED_HOSTS="dnoctl.dno.example",
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
