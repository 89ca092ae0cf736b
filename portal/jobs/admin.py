from django.contrib import admin

from portal.jobs.models import Job, JobSegment, WebhookDelivery


class SegmentInline(admin.TabularInline):
    model = JobSegment
    extra = 0
    can_delete = False
    fields = ["index", "start_seconds", "end_seconds", "status", "progress", "attempts", "worker_host", "finished_at"]
    readonly_fields = fields


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "status", "error_code", "audio_duration_seconds", "queue_name", "queue_wait",
                    "render_time", "worker_host", "created_at"]
    list_filter = ["status", "queue_name", "backend", "error_code", "created_at"]
    search_fields = ["id", "owner__email"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [SegmentInline]
    readonly_fields = [field.name for field in Job._meta.fields]

    def has_add_permission(self, request):
        return False  # jobs are submitted through the portal, with validation and quota

    @admin.display(description="queue wait (s)")
    def queue_wait(self, job):
        return None if job.queue_wait_seconds is None else round(job.queue_wait_seconds, 1)

    @admin.display(description="render time (s)")
    def render_time(self, job):
        return None if job.render_seconds is None else round(job.render_seconds, 1)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "owner", "job", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["owner__email", "job__id", "url"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]
