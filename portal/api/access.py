"""Who may call the API: any signed-in user through the portal's pages, and a key only while its owner's plan
includes the API (a lost plan turns keys off; it does not delete them)."""

from rest_framework.permissions import BasePermission

from billing import quota
from portal.api.models import ApiKey


class PlanIncludesApi(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if isinstance(request.auth, ApiKey):
            quota.check_api_access(request.user)  # QuotaError api_not_in_plan: 403 with the upgrade link
        return True
