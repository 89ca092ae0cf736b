"""Which weights each backend may serve with: promoted by the qualification pipeline (never added by hand here), with
the gate's figures and report; staff who may change checkpoints can withdraw one, and workers that have it refuse."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from portal.checkpoints.models import Checkpoint


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = ["backend", "version", "digest_start", "serving", "gate", "report", "source", "promoted_at"]
    list_filter = ["backend", "source"]
    search_fields = ["digest", "version", "pipeline_run"]
    readonly_fields = [field.name for field in Checkpoint._meta.fields]
    actions = ["withdraw"]

    def has_add_permission(self, request):
        return False  # only the gate makes checkpoints (the pipeline's promote step, manage.py promote_checkpoint)

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what served users stays; withdraw instead

    @admin.display(description="digest", ordering="digest")
    def digest_start(self, checkpoint):
        return format_html('<code title="{}">{}</code>', checkpoint.digest, checkpoint.short_digest)

    @admin.display(description="serves users", boolean=True, ordering="withdrawn_at")
    def serving(self, checkpoint):
        return checkpoint.serves

    @admin.display(description="quality gate")
    def gate(self, checkpoint):
        """Cases passed, then the worst duration error, A/V offset and the lowest sync correlation."""
        figures = [f"{checkpoint.cases_passed}/{checkpoint.cases_total} cases"]
        if checkpoint.duration_error_ms is not None:
            figures.append(f"duration ±{checkpoint.duration_error_ms:g} ms")
        if checkpoint.offset_frames is not None:
            figures.append(f"offset {checkpoint.offset_frames:g} frames")
        if checkpoint.sync_correlation is not None:
            figures.append(f"sync r {checkpoint.sync_correlation:.2f}")
        return " · ".join(figures)

    @admin.display(description="report")
    def report(self, checkpoint):
        if not checkpoint.report_url:
            return "-"
        return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">report</a>', checkpoint.report_url)

    @admin.action(
        description="Withdraw: workers with these weights stop serving at their next render", permissions=["change"]
    )
    def withdraw(self, request, queryset):
        withdrawn = queryset.filter(withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now(), withdrawn_by=request.user
        )
        self.message_user(request, f"{withdrawn} checkpoint(s) withdrawn.", messages.SUCCESS)
