"""The backing services this process talks to: whether they answer (health checks, the scheduler's pause while
the database is away) and the database URL to hand to the processes it starts (workers of a drill or a test)."""

import os
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from redis import Redis
from redis.exceptions import RedisError


def database_reachable() -> bool:
    """Whether the database answers a query now (on this thread's connection, opened if need be)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def redis_reachable(url: str | None = None) -> bool:
    """Whether Redis answers a PING within a second, at `url` (default: REDIS_URL)."""
    client = Redis.from_url(url or settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except RedisError:
        return False
    finally:
        client.close()


def database_url() -> str:
    """The database this process uses (a test run's own included), for the processes it starts."""
    url = urlsplit(os.environ.get("DATABASE_URL") or settings.DATABASE_URL)
    return url._replace(path="/" + connection.settings_dict["NAME"]).geturl()
