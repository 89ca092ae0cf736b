"""Requests counted per bucket in fixed one-minute windows, in Redis (the broker's, under its namespace, as the
workers' presence is), so every web process shares the counts: one INCR per request. The API's plan limits
(portal/api/rate_limits.py) and the parts of an upload (portal/library/upload/receive.py) are counted here."""

import time
from dataclasses import dataclass

import dramatiq

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Window:
    limit: int
    used: int
    reset_seconds: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        """The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers), as GitHub and others send them."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


def key_prefix(broker) -> str:
    return f"{broker.namespace}:api-rate"


def count(bucket: str, limit: int) -> Window:
    """Count one request in `bucket`'s current window."""
    now = time.time()
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    broker = dramatiq.get_broker()
    key = f"{key_prefix(broker)}:{bucket}:{window_start}"
    pipe = broker.client.pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 5)
    used, _ = pipe.execute()
    return Window(limit=limit, used=used, reset_seconds=max(1, window_start + WINDOW_SECONDS - int(now)))
