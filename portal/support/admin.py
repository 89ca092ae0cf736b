import csv
from datetime import datetime, time, timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing.admin import ReadOnlyAdmin
from portal.support import timeline
from portal.support.models import AuditEvent

CSV_COLUMNS = ["time (UTC)", "actor", "source", "action", "user", "job", "what", "reason"]


class _Echo:
    def write(self, value):
        return value


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Every support action and plan change; search by user email, job id or reason; export a date range as CSV."""

    list_display = ["created_at", "actor_name", "action", "user_email", "job_link", "what", "reason"]
    list_filter = ["action", "source", ("actor", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user_email", "job_ref", "reason", "actor__email"]
    search_help_text = "User email, job id, reason or staff email."
    date_hierarchy = "created_at"
    list_select_related = ["actor"]
    change_list_template = "admin/support/auditevent/change_list.html"

    def get_urls(self):
        export = path("export/", self.admin_site.admin_view(self.export_csv), name="support_auditevent_export")
        return [export, *super().get_urls()]

    @admin.display(description="by", ordering="actor__email")
    def actor_name(self, event):
        return event.actor.email if event.actor else event.source

    @admin.display(description="job")
    def job_link(self, event):
        if not event.job_ref:
            return ""
        if event.job_id is None:
            return event.job_ref[:8]
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:jobs_job_change", args=[event.job_id]), event.job_ref[:8]
        )

    @admin.display(description="what")
    def what(self, event):
        return timeline.audit_summary(event)

    def export_csv(self, request):
        """The events of a date range (from, to: YYYY-MM-DD, both included; default the last 30 days) as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        first = _day(request.GET.get("from"), today - timedelta(days=30))
        last = _day(request.GET.get("to"), today)
        start = timezone.make_aware(datetime.combine(first, time.min))
        end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
        events = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end).select_related("actor")
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(CSV_COLUMNS)
            for event in events.order_by("created_at", "id").iterator():
                yield writer.writerow(
                    [
                        f"{event.created_at:%Y-%m-%d %H:%M:%S}",
                        event.actor.email if event.actor else "",
                        event.source,
                        event.action,
                        event.user_email,
                        event.job_ref,
                        timeline.audit_summary(event),
                        event.reason,
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{first}-{last}.csv"'
        return response


def _day(text, default):
    try:
        return datetime.strptime(text or "", "%Y-%m-%d").date()
    except ValueError:
        return default
