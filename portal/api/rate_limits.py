"""Requests per minute per API key (per user for the portal's pages), set by the plan, counted in Redis through
portal/request_rates.py so every web process shares the counts."""

from rest_framework.throttling import BaseThrottle

from portal import request_rates
from portal.api.access import plan_of
from portal.api.models import ApiKey


class PlanRateThrottle(BaseThrottle):
    """The plan's api_requests_per_minute, per key; the window is kept on the request for the response headers."""

    def allow_request(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return True
        bucket = f"key:{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"user:{request.user.pk}"
        window = request_rates.count(bucket, plan_of(request).api_requests_per_minute)
        request._request.rate_limit = window  # the Django request, which the middleware sees
        self.window = window
        return not window.exceeded

    def wait(self) -> float:
        return self.window.reset_seconds
