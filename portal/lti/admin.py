"""Course platforms in admin. A registration decides which platform may vouch for teachers and students (its key set
URL signs their launches), and a tool key signs what we send back: only superusers, who always use a second factor
(portal/support/second_factor.py), add, change or delete them. Support staff with view permission see them, never
a private key. Course videos are read-only: the owner ends one by deleting the video or revoking its link."""

from django.contrib import admin
from pylti1p3.contrib.django.lti1p3_tool_config import admin as library_admin
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiTool, LtiToolKey

from portal.lti import keys
from portal.lti.models import CourseVideo

# pylti1p3 registers its own admin, which shows and edits the private key as plain text: ours replaces it.
for model in (LtiTool, LtiToolKey):
    if admin.site.is_registered(model):
        admin.site.unregister(model)
assert library_admin  # imported above so that its registrations exist before they are replaced


class SuperusersChange:
    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(LtiTool)
class PlatformAdmin(SuperusersChange, admin.ModelAdmin):
    list_display = ("title", "issuer", "client_id", "deployment_ids", "is_active")
    list_filter = ("is_active",)
    search_fields = ("title", "issuer", "client_id")
    fields = (
        "title",
        "is_active",
        "issuer",
        "client_id",
        "deployment_ids",
        "auth_login_url",
        "auth_token_url",
        "auth_audience",
        "key_set_url",
        "key_set",
        "tool_key",
        "use_by_default",
    )


@admin.register(LtiToolKey)
class ToolKeyAdmin(SuperusersChange, admin.ModelAdmin):
    """A new key is made here (keys.new_key_pair) when it is added; its private half is never shown."""

    list_display = ("name",)
    fields = ("name", "public_jwk")
    readonly_fields = ("public_jwk",)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.private_key, obj.public_key = keys.new_key_pair()
        super().save_model(request, obj, form, change)


@admin.register(CourseVideo)
class CourseVideoAdmin(admin.ModelAdmin):
    list_display = ("course_title", "job", "owner", "issuer", "created_at", "launches")
    list_select_related = ("job", "owner")
    search_fields = ("course_title", "course_id", "owner__email", "issuer")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
