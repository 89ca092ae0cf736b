from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from portal.library.models import AudioClip, Portrait, Script


class StoredUploadAdmin(admin.ModelAdmin):
    list_select_related = ["owner"]
    search_fields = ["id", "owner__email", "original_name"]
    date_hierarchy = "created_at"
    readonly_fields = ["id", "owner", "file", "size_bytes", "created_at"]

    @admin.display(description="size", ordering="size_bytes")
    def size(self, upload):
        return filesizeformat(upload.size_bytes)

    def has_add_permission(self, request):
        return False  # uploads go through validation in the portal, never around it


@admin.register(Portrait)
class PortraitAdmin(StoredUploadAdmin):
    list_display = ["original_name", "owner", "width", "height", "image_format", "size", "created_at"]
    list_filter = ["image_format"]
    readonly_fields = [*StoredUploadAdmin.readonly_fields, "thumbnail", "image_format", "width", "height"]


@admin.register(AudioClip)
class AudioClipAdmin(StoredUploadAdmin):
    list_display = ["original_name", "owner", "duration_seconds", "codec", "size", "created_at"]
    list_filter = ["codec"]
    readonly_fields = [
        *StoredUploadAdmin.readonly_fields,
        "duration_seconds",
        "sample_rate",
        "channels",
        "codec",
        "content_type",
    ]


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    """What a user asked a voice to say, and why it was refused; support reads, never edits."""

    list_display = ["title", "owner", "voice", "status", "error_code", "estimated_seconds", "created_at"]
    list_filter = ["status", "voice", "error_code"]
    list_select_related = ["owner"]
    search_fields = ["id", "owner__email", "title"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Script._meta.fields]

    def has_add_permission(self, request):
        return False  # a script is checked by the speech engine in the portal, never around it

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # a script goes with its audio clip (delete that) or when its owner dismisses it
