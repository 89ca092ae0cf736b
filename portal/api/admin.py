from django.contrib import admin, messages
from django.utils import timezone

from portal.api.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Support sees and revokes keys; keys are made by their owners or with `manage.py create_api_key`."""

    list_display = ["name", "prefix", "owner", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_select_related = ["owner"]
    search_fields = ["owner__email", "name", "prefix"]
    readonly_fields = ["id", "owner", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]
    exclude = ["hashed_key"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)
