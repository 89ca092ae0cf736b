"""The support console for jobs: find a job (id, email, trace id or support code), see where its time went, and
act on it. Every action is written to the audit log (Django's admin log: Administration > Log entries)."""

import uuid

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.db.models import Sum
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from portal import tracing
from portal.errors import Refusal
from portal.jobs import services
from portal.jobs.models import Job, JobSegment, JobStage, WebhookDelivery

# Attributes worth a column in the stage timeline; the trace has the rest.
TIMELINE_ATTRIBUTES = ["frames", "audio.duration_s", "resolution", "faces_found", "bytes", "segments",
                       "animate.seconds", "encode.seconds"]


class SegmentInline(admin.TabularInline):
    model = JobSegment
    extra = 0
    can_delete = False
    fields = ["index", "start_seconds", "end_seconds", "status", "progress", "attempts", "worker_host", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class StageInline(admin.TabularInline):
    """Where the time went, attempt by attempt, even when no tracing backend is configured."""

    model = JobStage
    extra = 0
    can_delete = False
    verbose_name_plural = "stage timeline"
    fields = ["attempt", "segment_index", "name", "start", "duration", "key_attributes", "error_code"]
    readonly_fields = fields
    ordering = ["started_at"]

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="started (UTC)", ordering="started_at")
    def start(self, stage):
        return f"{stage.started_at:%Y-%m-%d %H:%M:%S}.{stage.started_at.microsecond // 1000:03d}"

    @admin.display(description="seconds")
    def duration(self, stage):
        return f"{stage.seconds:.2f}"

    @admin.display(description="attributes")
    def key_attributes(self, stage):
        shown = [(key, stage.attributes[key]) for key in TIMELINE_ATTRIBUTES if key in stage.attributes]
        return ", ".join(f"{key}={value}" for key, value in shown)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "owner", "status", "plan", "backend", "error_code", "duration", "queue_wait",
                    "render_time", "worker_host", "support_code", "created_at"]
    list_filter = ["status", "plan", "backend", "error_code", "created_at"]
    search_fields = ["id", "owner__email", "trace_id"]
    search_help_text = "Job id, user email, trace id or support code."
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [StageInline, SegmentInline]
    actions = ["retry", "cancel", "refund", "renew_download_link"]
    fieldsets = [
        (None, {"fields": ["id", "owner", "status", "support_code", "trace_link", "error_code", "error_message",
                           "warnings"]}),
        ("Renderer", {"fields": ["backend", "renderer_version", "quality_gate", "params", "seed", "watermark",
                                 "faces_found", "segment_count"]}),
        ("Time", {"fields": ["created_at", "enqueued_at", "started_at", "finished_at", "queue_wait", "render_time",
                             "time_by_stage", "attempts", "worker_host", "queue_name", "plan"]}),
        ("Files and quota", {"fields": ["portrait", "audio", "audio_duration_seconds", "output", "poster",
                                        "output_size_bytes", "output_duration_seconds", "quota_seconds",
                                        "reservation_state"]}),
    ]
    readonly_fields = [field.name for field in Job._meta.fields] + [
        "support_code", "trace_link", "queue_wait", "render_time", "time_by_stage", "reservation_state",
    ]

    def has_add_permission(self, request):
        return False  # jobs are submitted through the portal, with validation and quota

    def has_retry_permission(self, request):
        return request.user.has_perm("jobs.retry_job")

    def has_cancel_permission(self, request):
        return request.user.has_perm("jobs.cancel_job")

    def has_refund_permission(self, request):
        return request.user.has_perm("jobs.refund_job")

    def has_renew_download_link_permission(self, request):
        return request.user.has_perm("jobs.renew_download_link")

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        prefix = tracing.trace_id_prefix(term)
        if prefix:  # a support code read out by a user, or a trace id from a log line
            results |= queryset.filter(trace_id__startswith=prefix)
        try:
            results |= queryset.filter(pk=uuid.UUID(term))
        except ValueError:
            pass
        return results, may_have_duplicates

    @admin.display(description="audio (s)", ordering="audio_duration_seconds")
    def duration(self, job):
        return round(job.audio_duration_seconds, 1)

    @admin.display(description="queue wait (s)")
    def queue_wait(self, job):
        return None if job.queue_wait_seconds is None else round(job.queue_wait_seconds, 1)

    @admin.display(description="render time (s)")
    def render_time(self, job):
        return None if job.render_seconds is None else round(job.render_seconds, 1)

    @admin.display(description="support code")
    def support_code(self, job):
        return job.support_code

    @admin.display(description="trace")
    def trace_link(self, job):
        url = tracing.trace_url(job.trace_id)
        if not url:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">Open trace {}</a>', url, job.trace_id)

    @admin.display(description="time by stage (s)")
    def time_by_stage(self, job):
        totals = job.stages.values("name").annotate(total=Sum("seconds")).order_by("-total")
        return format_html_join(", ", "{} {}", ((row["name"], f"{row['total']:.1f}") for row in totals)) or "-"

    @admin.display(description="quota")
    def reservation_state(self, job):
        reservation = job.reservation
        return "-" if reservation is None else f"{reservation.seconds} s {reservation.state}"

    def _act(self, request, queryset, act, done: str) -> None:
        """Run `act` on each job; log what happened to the audit log and tell the staff member."""
        for job in queryset:
            try:
                result = act(job)
            except Refusal as refusal:
                self.message_user(request, f"{job.id}: {refusal.message} ({refusal.code})", messages.WARNING)
                continue
            note = done.format(job=job, result=result)
            self.log_change(request, job, note)
            self.message_user(request, f"{job.id}: {note}", messages.SUCCESS)

    @admin.action(description="Retry: render the selected failed or canceled jobs again", permissions=["retry"])
    def retry(self, request, queryset):
        self._act(request, queryset, services.retry, "Queued again (retry by support)")

    @admin.action(description="Cancel the selected jobs (refunds their render time)", permissions=["cancel"])
    def cancel(self, request, queryset):
        def cancel(job):
            if job.is_finished:
                raise Refusal("job_finished", f"The job already {job.status}.")
            return services.cancel(job)

        self._act(request, queryset, cancel, "Canceled by support")

    @admin.action(description="Refund the selected jobs' render time", permissions=["refund"])
    def refund(self, request, queryset):
        self._act(request, queryset, services.refund, "Refunded {result} s of render time")

    @admin.action(description="Make a fresh download link", permissions=["renew_download_link"])
    def renew_download_link(self, request, queryset):
        def link(job):
            if job.status != Job.Status.SUCCEEDED or not job.output:
                raise Refusal("no_output", "The job has no video to download.")
            return services.download_link(job, job.output.name)

        self._act(request, queryset, link, "New download link: {result}")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "owner", "job", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["owner__email", "job__id", "url"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]


@admin.register(LogEntry)
class AuditLogAdmin(admin.ModelAdmin):
    """Who did what to which object, and when: every change and action made by staff in admin."""

    list_display = ["action_time", "user", "action", "content_type", "object_link", "what"]
    list_filter = ["action_flag", "content_type", "user"]
    search_fields = ["object_repr", "object_id", "user__email", "change_message"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="action", ordering="action_flag")
    def action(self, entry):
        return {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, entry.action_flag)

    @admin.display(description="object")
    def object_link(self, entry):
        if entry.is_deletion() or entry.content_type is None:
            return entry.object_repr
        try:
            url = reverse(f"admin:{entry.content_type.app_label}_{entry.content_type.model}_change",
                          args=[entry.object_id])
        except NoReverseMatch:  # a model no longer in admin: its name only
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description="what")
    def what(self, entry):
        return entry.get_change_message()
