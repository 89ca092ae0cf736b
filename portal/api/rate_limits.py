"""Requests per minute per API key (per user for the portal's pages), set by the plan, counted in Redis (the
broker's, under its namespace, as the workers' presence is) so every web process shares the counts. A fixed
one-minute window: one INCR per request."""

import time
from dataclasses import dataclass

import dramatiq
from rest_framework.throttling import BaseThrottle

from portal.api.access import plan_of
from portal.api.models import ApiKey

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Window:
    limit: int
    used: int
    reset_seconds: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

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
    now = time.time()
    window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
    broker = dramatiq.get_broker()
    key = f"{key_prefix(broker)}:{bucket}:{window_start}"
    pipe = broker.client.pipeline()
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 5)
    used, _ = pipe.execute()
    return Window(limit=limit, used=used, reset_seconds=max(1, window_start + WINDOW_SECONDS - int(now)))


class PlanRateThrottle(BaseThrottle):
    """The plan's api_requests_per_minute, per key; the window is kept on the request for the response headers."""

    def allow_request(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return True
        bucket = f"key:{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"user:{request.user.pk}"
        window = count(bucket, plan_of(request).api_requests_per_minute)
        request._request.rate_limit = window  # the Django request, which the middleware sees
        self.window = window
        return window.used <= window.limit

    def wait(self) -> float:
        return self.window.reset_seconds
