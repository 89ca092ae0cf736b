"""A user's account as support reads it: one list of what happened, newest first."""

from dataclasses import dataclass
from datetime import datetime

from billing.models import BillingEvent, Reservation
from billing.plans import PLANS
from portal.jobs.models import Job
from portal.support.models import AuditEvent

LIMIT = 100


@dataclass(frozen=True)
class Row:
    at: datetime
    kind: str  # signup, plan, billing, job, refund, support
    what: str
    detail: str = ""


def for_user(user, limit: int = LIMIT) -> list[Row]:
    rows = [Row(user.date_joined, "signup", "Signed up", user.email)]
    for event in AuditEvent.objects.filter(user=user).select_related("actor")[:limit]:
        by = event.actor.email if event.actor else event.source
        kind = "plan" if event.action == AuditEvent.Action.PLAN_CHANGED else "support"
        reason = f" · {event.reason}" if event.reason else ""
        job = f" · job {event.job_ref[:8]}" if event.job_ref else ""
        rows.append(
            Row(
                event.created_at,
                kind,
                event.get_action_display().capitalize(),
                f"{audit_summary(event)}{job} · by {by}{reason}",
            )
        )
    for event in BillingEvent.objects.filter(account__user=user)[:limit]:
        rows.append(
            Row(
                event.created_at,
                "billing",
                f"Billing: {event.kind.replace('_', ' ')}",
                f"{event.source}{' · ' + event.message if event.message else ''}",
            )
        )
    for job in Job.objects.filter(owner=user)[:limit]:
        rows.append(
            Row(
                job.created_at,
                "job",
                f"Job {str(job.id)[:8]} submitted",
                f"{job.audio_duration_seconds:.0f} s audio, {job.quota_seconds} s reserved",
            )
        )
        if job.finished_at:
            rows.append(Row(job.finished_at, "job", f"Job {str(job.id)[:8]} {job.status}", job.error_code))
    by_support = set(
        AuditEvent.objects.filter(user=user, action=AuditEvent.Action.REFUND).values_list("job_ref", flat=True)
    )
    refunded = Reservation.objects.filter(user=user, state=Reservation.REFUNDED, closed_at__isnull=False)
    for reservation in refunded.exclude(job_ref__in=by_support)[:limit]:  # support's refunds are listed above
        rows.append(
            Row(
                reservation.closed_at,
                "refund",
                "Render time refunded",
                f"{reservation.charged_seconds or reservation.seconds} s · job {reservation.job_ref[:8]}",
            )
        )
    return sorted(rows, key=lambda row: row.at, reverse=True)[:limit]


def audit_summary(event: AuditEvent) -> str:
    """What changed, in words: "Free → Pro", "10 s", "failed → queued"."""
    changes = event.changes or {}
    if "plan" in changes:
        return " → ".join(PLANS[code].name if code in PLANS else code or "-" for code in changes["plan"])
    if "seconds" in changes:
        return f"{changes['seconds']} s"
    if "link" in changes:
        return "new link made"
    if "status" in changes:
        return " → ".join(changes["status"])
    return ""
