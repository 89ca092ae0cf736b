"""The audit log: every support action and every plan change, with who, why and what changed."""

from django.utils.translation import gettext

from portal.support.models import AuditEvent


def record(
    action: str, *, actor=None, user=None, job=None, reason: str = "", source: str = "admin", **changes
) -> AuditEvent:
    if user is None and job is not None:
        user = job.owner
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        source=source,
        user=user,
        user_email=getattr(user, "email", ""),
        job=job,
        job_ref=str(job.pk) if job is not None else "",
        reason=reason.strip(),
        changes=changes,
    )


def user_facing(event: AuditEvent) -> str:
    """How the job's owner reads it on their job page (in their language; support's reason as support wrote it)."""
    if event.action == AuditEvent.Action.CANCEL:
        what = gettext("Canceled by support")
    elif event.action == AuditEvent.Action.REFUND:
        what = gettext("Support refunded %(seconds)s s of render time") % {"seconds": event.changes.get("seconds", 0)}
    elif event.action == AuditEvent.Action.RETRY:
        what = gettext("Support rendered this video again")
    else:
        return ""
    return gettext("%(what)s: %(reason)s") % {"what": what, "reason": event.reason} if event.reason else what
