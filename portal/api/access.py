"""Who may call the API: any signed-in user through the portal's pages, and a key only while its owner's plan
includes the API (a lost plan turns keys off; it does not delete them)."""

from rest_framework.permissions import BasePermission

from billing import quota
from billing.models import plan_for
from billing.plans import Plan
from portal.api.models import ApiKey


def plan_of(request) -> Plan:
    """The caller's plan, read once per request (the access check and the rate limit both need it)."""
    django_request = request._request
    if not hasattr(django_request, "api_plan"):
        django_request.api_plan = plan_for(request.user)
    return django_request.api_plan


class PlanIncludesApi(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if isinstance(request.auth, ApiKey):
            quota.check_api_access(request.user, plan_of(request))  # 403 api_not_in_plan with the upgrade link
        return True
