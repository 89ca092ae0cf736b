"""The audit log: every support action and every plan change, with who, why and what changed."""

from portal.support.models import AuditEvent


def record(action: str, *, actor=None, user=None, job=None, reason: str = "", source: str = "admin",
           **changes) -> AuditEvent:
    if user is None and job is not None:
        user = job.owner
    return AuditEvent.objects.create(
        action=action, actor=actor if actor is not None and actor.pk else None, source=source, user=user,
        user_email=getattr(user, "email", ""), job=job, job_ref=str(job.pk) if job is not None else "",
        reason=reason.strip(), changes=changes,
    )


def user_facing(event: AuditEvent) -> str:
    """How the job's owner reads it on their job page."""
    reason = f": {event.reason}" if event.reason else ""
    if event.action == AuditEvent.Action.CANCEL:
        return f"Canceled by support{reason}"
    if event.action == AuditEvent.Action.REFUND:
        return f"Support refunded {event.changes.get('seconds', 0)} s of render time{reason}"
    if event.action == AuditEvent.Action.RETRY:
        return f"Support rendered this video again{reason}"
    return ""
