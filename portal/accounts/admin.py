from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.template.defaultfilters import filesizeformat

from billing.admin import BillingAccountInline
from portal.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "storage_used", "date_joined"]
    search_fields = ["email", "name"]
    readonly_fields = ["storage_prefix", "storage_used_bytes", "last_login", "date_joined"]
    fieldsets = [
        (None, {"fields": ["email", "password", "name"]}),
        ("Storage", {"fields": ["storage_prefix", "storage_used_bytes"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def get_inlines(self, request, obj):
        """Plan, limits, usage and Stripe ids (billing); support fixes a plan here. Not on the "add user" page."""
        return [BillingAccountInline] if obj else []

    @admin.display(description="storage", ordering="storage_used_bytes")
    def storage_used(self, user):
        return filesizeformat(user.storage_used_bytes)
