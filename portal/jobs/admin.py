"""The support console for jobs: find a job (id, email, trace id or support code), see where its time went, and
act on it from its page. Every action asks for a reason and is written to the audit log (Support > Audit events)."""

import uuid
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing.admin import ReadOnlyAdmin
from billing.models import Reservation
from portal import storage, tracing
from portal.errors import Refusal
from portal.jobs import services
from portal.jobs.models import Job, JobSegment, JobStage, WebhookDelivery
from portal.support import audit, timeline

# Attributes worth a column in the stage timeline; the trace has the rest.
TIMELINE_ATTRIBUTES = [
    "frames",
    "audio.duration_s",
    "resolution",
    "faces_found",
    "bytes",
    "segments",
    "animate.seconds",
    "encode.seconds",
]


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


# The job page's actions: (permission, button label, what the confirmation page says it will do).
ACTIONS = {
    "retry": (
        "jobs.retry_job",
        _("Retry"),
        _("Render this job again, in the same trace, reserving its render time again."),
    ),
    "cancel": ("jobs.cancel_job", _("Cancel"), _("Stop this job; its reserved render time goes back to the user.")),
    "refund": ("jobs.refund_job", _("Refund"), _("Give this job's render time back to the user's period.")),
    "renew_link": (
        "jobs.renew_download_link",
        _("New download link"),
        _("Make a fresh signed download link for this job's video."),
    ),
}


def _cancel(job):
    if job.is_finished:
        raise Refusal("job_finished", f"The job already {job.status}.")
    return services.cancel(job)


def _new_link(job):
    if job.status != Job.Status.SUCCEEDED or not job.output:
        raise Refusal("no_output", "The job has no video to download.")
    return storage.download_link(job, job.output.name)


def _offered(action: str, job: Job) -> bool:
    """Whether the job's state allows the action (the action itself checks again when it runs)."""
    if action == "retry":
        return job.status in (Job.Status.FAILED, Job.Status.CANCELED)
    if action == "cancel":
        return not job.is_finished
    if action == "refund":
        return job.is_finished and job.reservation is not None and job.reservation.state != Reservation.REFUNDED
    return job.status == Job.Status.SUCCEEDED and bool(job.output)


def _merged_seconds(intervals) -> float:
    """Wall-clock seconds covered by (start, end) intervals that may overlap (parts rendering side by side)."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "short_id",
        "owner",
        "status",
        "plan",
        "error_code",
        "duration",
        "render_time",
        "support_code",
        "created_at",
    ]
    list_filter = ["status", "plan", "backend", "error_code", "created_at"]
    search_fields = ["id", "owner__email", "trace_id"]
    search_help_text = "Job id, user email, trace id or support code."
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [StageInline, SegmentInline]
    actions = None  # actions are buttons on the job page, each with a confirmation and a reason
    change_form_template = "admin/jobs/job/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "owner",
                    "status",
                    "support_code",
                    "trace_link",
                    "error_code",
                    "error_message",
                    "warnings",
                    "support_actions",
                ]
            },
        ),
        (
            "Renderer",
            {
                "fields": [
                    "backend",
                    "renderer_version",
                    "checkpoint_link",
                    "quality_gate",
                    "params",
                    "seed",
                    "watermark",
                    "faces_found",
                    "segment_count",
                ]
            },
        ),
        (
            "Time",
            {
                "fields": [
                    "created_at",
                    "enqueued_at",
                    "started_at",
                    "finished_at",
                    "queue_wait",
                    "render_time",
                    "time_by_stage",
                    "total_attempts",
                    "worker_host",
                    "queue_name",
                    "plan",
                ]
            },
        ),
        (
            "Files and quota",
            {
                "fields": [
                    "portrait",
                    "audio",
                    "audio_duration_seconds",
                    "output_link",
                    "poster_link",
                    "output_size_bytes",
                    "output_duration_seconds",
                    "quota_seconds",
                    "reservation_state",
                ]
            },
        ),
    ]
    readonly_fields = [field.name for field in Job._meta.fields] + [
        "support_code",
        "trace_link",
        "queue_wait",
        "render_time",
        "time_by_stage",
        "reservation_state",
        "total_attempts",
        "output_link",
        "poster_link",
        "support_actions",
        "checkpoint_link",
    ]

    def has_add_permission(self, request):
        return False  # jobs are submitted through the portal, with validation and quota

    def get_urls(self):
        own = [
            path(
                "<uuid:job_id>/action/<slug:action>/",
                self.admin_site.admin_view(self.action_view),
                name="jobs_job_action",
            ),
            path("<uuid:job_id>/timeline/", self.admin_site.admin_view(self.timeline_view), name="jobs_job_timeline"),
        ]
        return own + super().get_urls()

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["job_actions"] = [
                (name, label)
                for name, (permission, label, __) in ACTIONS.items()
                if request.user.has_perm(permission) and _offered(name, obj)
            ]
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

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

    # --- The job page's actions --------------------------------------------------------------------------------
    def action_view(self, request, job_id, action):
        """Confirm with a reason, then act: the reason goes to the audit log and, where it concerns them, to the
        user's job page."""
        if action not in ACTIONS:
            raise Http404("no such action")
        permission, label, explanation = ACTIONS[action]
        if not request.user.has_perm(permission):
            raise PermissionDenied
        job = get_object_or_404(Job.objects.select_related("owner", "reservation"), pk=job_id)
        change_url = reverse("admin:jobs_job_change", args=[job.pk])
        error = ""
        if request.method == "POST":
            reason = request.POST.get("reason", "").strip()
            if not reason:
                error = gettext(
                    "Say why: the reason is kept in the audit log and shown to the user where it concerns them."
                )
            else:
                self._act(request, job, action, reason)
                return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "job": job,
            "action": action,
            "label": label,
            "explanation": explanation,
            "error": error,
            "change_url": change_url,
            "title": gettext("%(action)s: job %(job)s") % {"action": label, "job": job.pk},
        }
        return TemplateResponse(request, "admin/jobs/job/confirm_action.html", context, status=400 if error else 200)

    def _act(self, request, job: Job, action: str, reason: str) -> None:
        before = job.status
        try:
            if action == "retry":
                job = services.retry(job)
                changes = {"status": [before, job.status]}
                note = gettext("Queued again (retry by support).")
            elif action == "cancel":
                job = _cancel(job)
                changes = {"status": [before, job.status]}
                note = (
                    gettext("Canceled by support.")
                    if job.is_finished
                    else gettext("Stops at its next frame (canceled by support).")
                )
            elif action == "refund":
                seconds = services.refund(job)
                changes = {"seconds": seconds}
                note = gettext("Refunded %(seconds)s s of render time.") % {"seconds": seconds}
            else:
                link = _new_link(job)
                changes = {"link": True}
                note = gettext("New download link: %(link)s") % {"link": link}
        except Refusal as refusal:
            self.message_user(request, f"{refusal.message} ({refusal.code})", messages.WARNING)
            return
        audit.record(action, actor=request.user, job=job, reason=reason, **changes)
        self.message_user(request, note, messages.SUCCESS)

    def timeline_view(self, request, job_id):
        """The spans we keep of the job (its stages, attempt by attempt, parts side by side), as a timeline."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(Job, pk=job_id)
        stages = list(job.stages.order_by("started_at"))
        origin = min((stage.started_at for stage in stages), default=job.created_at)
        finish = max((stage.started_at + timedelta(seconds=stage.seconds) for stage in stages), default=origin)
        span = max((finish - origin).total_seconds(), 0.001)
        rows = [
            {
                "stage": stage,
                "offset": (stage.started_at - origin).total_seconds(),
                "left": 100 * (stage.started_at - origin).total_seconds() / span,
                "width": max(100 * stage.seconds / span, 0.3),
            }
            for stage in stages
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "job": job,
            "rows": rows,
            "span_seconds": span,
            "title": gettext("Timeline of job %(job)s") % {"job": job.pk},
            "change_url": reverse("admin:jobs_job_change", args=[job.pk]),
        }
        return TemplateResponse(request, "admin/jobs/job/timeline.html", context)

    # --- Columns and fields ------------------------------------------------------------------------------------
    @admin.display(description="job", ordering="id")
    def short_id(self, job):
        return str(job.id)[:8]

    @admin.display(description="audio (s)", ordering="audio_duration_seconds")
    def duration(self, job):
        return round(job.audio_duration_seconds, 1)

    @admin.display(description="queue wait (s)")
    def queue_wait(self, job):
        return None if job.queue_wait_seconds is None else round(job.queue_wait_seconds, 1)

    @admin.display(description="render (s)")
    def render_time(self, job):
        return None if job.render_seconds is None else round(job.render_seconds, 1)

    @admin.display(description="support code")
    def support_code(self, job):
        return job.support_code

    @admin.display(description="attempts")
    def total_attempts(self, job):
        """Counted across support's retries (a retried job's next render is attempt 2, not 1 again)."""
        return job.earlier_attempts + job.attempts

    @admin.display(description="trace")
    def trace_link(self, job):
        url = tracing.trace_url(job.trace_id)
        if url:
            return format_html('<a href="{}" target="_blank" rel="noopener">Open trace {}</a>', url, job.trace_id)
        timeline = reverse("admin:jobs_job_timeline", args=[job.pk])
        return format_html(
            '<a href="{}">Open timeline</a> (no tracing backend is configured: the stages we keep)', timeline
        )

    @admin.display(description="checkpoint")
    def checkpoint_link(self, job):
        checkpoint = job.checkpoint
        if checkpoint is None:
            return "-"
        url = reverse("admin:checkpoints_checkpoint_change", args=[checkpoint.pk])
        gate = f"{checkpoint.cases_passed}/{checkpoint.cases_total} cases passed"
        return format_html(
            '<a href="{}"><code>{}</code></a> ({}, {}{})',
            url,
            checkpoint.short_digest,
            checkpoint.version,
            gate,
            "" if checkpoint.serves else "; withdrawn since",
        )

    @admin.display(description="time by stage")
    def time_by_stage(self, job):
        """Wall-clock time of the job and of each stage, and apart from it the work summed over parts (parts
        render side by side, so their sum can exceed the wall clock)."""
        stages = list(job.stages.all())
        if not stages:
            return "-"
        by_name: dict[str, list] = {}
        for stage in stages:
            by_name.setdefault(stage.name, []).append(stage)
        rows = []
        for name, runs in by_name.items():
            intervals = [(run.started_at, run.started_at + timedelta(seconds=run.seconds)) for run in runs]
            rows.append((name, _merged_seconds(intervals), sum(run.seconds for run in runs)))
        rows.sort(key=lambda row: -row[1])
        wall = job.render_seconds
        head = format_html("Job, start to finish: <strong>{} s</strong>", f"{wall:.1f}") if wall is not None else ""
        table = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((name, f"{wall_seconds:.1f}", f"{work:.1f}") for name, wall_seconds, work in rows),
        )
        return format_html(
            '{}<table class="time-by-stage"><thead><tr><th>stage</th><th>wall-clock (s)</th>'
            "<th>work summed over parts (s)</th></tr></thead><tbody>{}</tbody></table>",
            head,
            table,
        )

    @admin.display(description="quota")
    def reservation_state(self, job):
        reservation = job.reservation
        return "-" if reservation is None else f"{reservation.seconds} s {reservation.state}"

    @admin.display(description="output")
    def output_link(self, job):
        """The same signed, owner-free link the user gets (files are private: there is no /media/ URL)."""
        if not job.output:
            return "-"
        return format_html(
            '<a href="{}">video ({})</a>',
            storage.download_path(job, job.output.name),
            filesizeformat(job.output_size_bytes),
        )

    @admin.display(description="poster")
    def poster_link(self, job):
        if not job.poster:
            return "-"
        return format_html('<a href="{}">poster</a>', storage.download_path(job, job.poster.name))

    @admin.display(description="support actions")
    def support_actions(self, job):
        events = job.audit_events.select_related("actor")
        return (
            format_html_join(
                mark_safe("<br>"),
                "{} · {} · {} {}{}",
                (
                    (
                        f"{event.created_at:%Y-%m-%d %H:%M}",
                        event.actor.email if event.actor else event.source,
                        event.get_action_display(),
                        timeline.audit_summary(event),
                        f": {event.reason}" if event.reason else "",
                    )
                    for event in events
                ),
            )
            or "-"
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "owner", "job", "status", "attempts", "response_status", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["owner__email", "job__id", "url"]
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False  # deliveries are made by finished jobs, each with its signed payload


@admin.register(LogEntry)
class AuditLogAdmin(ReadOnlyAdmin):
    """Django's own log of staff edits in admin (support actions and plan changes: Support > Audit events)."""

    list_display = ["action_time", "user", "action", "content_type", "object_link", "what"]
    list_filter = ["action_flag", "content_type", "user"]
    search_fields = ["object_repr", "object_id", "user__email", "change_message"]
    date_hierarchy = "action_time"
    list_select_related = ["user", "content_type"]

    @admin.display(description="action", ordering="action_flag")
    def action(self, entry):
        return {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, entry.action_flag)

    @admin.display(description="object")
    def object_link(self, entry):
        if entry.is_deletion() or entry.content_type is None:
            return entry.object_repr
        try:
            url = reverse(
                f"admin:{entry.content_type.app_label}_{entry.content_type.model}_change", args=[entry.object_id]
            )
        except NoReverseMatch:  # a model no longer in admin: its name only
            return entry.object_repr
        return format_html('<a href="{}">{}</a>', url, entry.object_repr)

    @admin.display(description="what")
    def what(self, entry):
        return entry.get_change_message()
