"""Render-second quotas and job limits, enforced from the local database only.

The jobs app calls, in this order:
  check_job(user, seconds=..., resolution=..., active_jobs=...)   at submit, before anything is stored
  reservation = reserve_seconds(user, seconds, job_ref)          in the same transaction that creates the job
  charge(reservation, seconds_rendered)                          when the job finishes
  refund(reservation)                                            when it fails or is cancelled
Each refusal is a QuotaError with a stable code and a message for people.
"""

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from billing.models import BillingAccount, Reservation, UsageEntry, UsagePeriod, plan_for
from portal.errors import Refusal


class QuotaError(Refusal):
    """A request the user's plan does not allow."""

    default_status = 403

    def extra(self) -> dict:
        """A bigger plan raises the limit: where to get one."""
        return {"upgrade_url": settings.SITE_URL + reverse("billing:usage")}


# --- Billing periods -------------------------------------------------------------------------------------------
def _add_months(anchor: datetime, months: int) -> datetime:
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    days_in_month = [
        31,
        29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return anchor.replace(year=year, month=month, day=min(anchor.day, days_in_month))


def monthly_period(anchor: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The month (counted from anchor, day of month kept or clamped) that contains now."""
    months = (now.year - anchor.year) * 12 + now.month - anchor.month
    while months > 0 and _add_months(anchor, months) > now:
        months -= 1
    months = max(months, 0)
    while _add_months(anchor, months + 1) <= now:
        months += 1
    return _add_months(anchor, months), _add_months(anchor, months + 1)


def current_period(user, now=None) -> tuple[datetime, datetime]:
    """The usage period containing now: the Stripe billing period while a subscription gives the plan, otherwise
    calendar months counted from signup (Free, staff-assigned plans, billing off)."""
    now = now or timezone.now()
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    if (
        account is not None
        and not account.plan_override
        and account.subscription_grants_plan(now)
        and account.current_period_start
        and account.current_period_end
        and account.current_period_start <= now < account.current_period_end
    ):
        return account.current_period_start, account.current_period_end
    return monthly_period(user.date_joined, now)


def _period_row(user, now) -> UsagePeriod:
    start, end = current_period(user, now)
    try:
        with transaction.atomic():
            period, _ = UsagePeriod.objects.get_or_create(user_id=user.pk, start=start, defaults={"end": end})
    except IntegrityError:  # another request made it between our SELECT and INSERT
        period = UsagePeriod.objects.get(user_id=user.pk, start=start)
    return period


def period_limit_seconds(user, period: UsagePeriod) -> int:
    """The render seconds this period allows: the plan's monthly seconds plus what support granted."""
    return plan_for(user).monthly_render_seconds + period.extra_seconds


def usage_summary(user, now=None) -> dict:
    """What the usage page shows: plan, period and seconds used, reserved and remaining."""
    now = now or timezone.now()
    plan = plan_for(user)
    start, end = current_period(user, now)
    period = UsagePeriod.objects.filter(user_id=user.pk, start=start).first()
    used = period.used_seconds if period else 0
    reserved = period.reserved_seconds if period else 0
    allowance = plan.monthly_render_seconds + (period.extra_seconds if period else 0)
    return {
        "plan": plan,
        "period_start": start,
        "period_end": end,
        "used_seconds": used,
        "reserved_seconds": reserved,
        "allowance_seconds": allowance,
        "remaining_seconds": max(allowance - used - reserved, 0),
    }


# --- Checks on a job request (no database writes) --------------------------------------------------------------
def _whole_seconds(seconds) -> int:
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise QuotaError("invalid_seconds", _("The length must be a number of seconds."), status=400) from None
    if not math.isfinite(value) or value <= 0:
        raise QuotaError("invalid_seconds", _("The length must be more than zero seconds."), status=400)
    return math.ceil(value)


def check_job(
    user, *, seconds, resolution: int | None = None, active_jobs: int | None = None, backend: str | None = None
) -> None:
    """Refuse a job the user's plan does not allow. active_jobs: the user's jobs queued or running now."""
    plan = plan_for(user)
    if backend is not None:
        check_backend(user, backend)
    whole = _whole_seconds(seconds)
    if whole > plan.max_job_seconds:
        raise QuotaError(
            "job_too_long",
            _(
                "The %(plan)s plan renders up to %(minutes)s min per video (%(limit)s s); this one is %(seconds)s s. "
                "Upgrade for longer videos."
            )
            % {
                "plan": plan.display_name,
                "minutes": plan.max_job_seconds // 60 or 1,
                "limit": plan.max_job_seconds,
                "seconds": whole,
            },
        )
    if resolution is not None and resolution > plan.max_resolution:
        raise QuotaError(
            "resolution_not_in_plan",
            _("The %(plan)s plan renders up to %(limit)sp; upgrade for %(resolution)sp.")
            % {"plan": plan.display_name, "limit": plan.max_resolution, "resolution": resolution},
        )
    if active_jobs is not None and active_jobs >= plan.concurrent_jobs:
        raise QuotaError(
            "too_many_jobs",
            _("The %(plan)s plan runs %(jobs)s job(s) at once; wait for one to finish.")
            % {"plan": plan.display_name, "jobs": plan.concurrent_jobs},
            status=429,
        )


def check_backend(user, backend: str) -> None:
    plan = plan_for(user)
    if backend not in plan.backends:
        raise QuotaError(
            "backend_not_in_plan",
            _("The %(plan)s plan renders with %(backends)s; upgrade to render with %(backend)s.")
            % {"plan": plan.display_name, "backends": ", ".join(plan.backends), "backend": backend},
        )


def check_api_access(user, plan=None) -> None:
    plan = plan or plan_for(user)
    if not plan.api_access:
        raise QuotaError(
            "api_not_in_plan",
            _("The %(plan)s plan does not include the API; upgrade to Pro.") % {"plan": plan.display_name},
        )


# --- The ledger -------------------------------------------------------------------------------------------------
def reserve_seconds(user, seconds, job_ref: str, now=None) -> Reservation:
    """Hold `seconds` (rounded up) of this period's render time for job_ref, or raise QuotaError.

    One conditional UPDATE moves the counter, so concurrent reservations can never overspend the allowance."""
    now = now or timezone.now()
    whole = _whole_seconds(seconds)
    plan = plan_for(user)
    if whole > plan.max_job_seconds:
        check_job(user, seconds=whole)  # raises job_too_long
    job_ref = str(job_ref or "").strip()
    if not job_ref or len(job_ref) > 100:
        raise QuotaError("invalid_job_ref", _("A job reference of 1 to 100 characters is required."), status=400)
    period = _period_row(user, now)
    limit = plan.monthly_render_seconds
    with transaction.atomic():
        moved = (
            UsagePeriod.objects.filter(pk=period.pk)
            .filter(LessThanOrEqual(F("used_seconds") + F("reserved_seconds") + whole, F("extra_seconds") + limit))
            .update(reserved_seconds=F("reserved_seconds") + whole)
        )
        if not moved:
            period.refresh_from_db()
            remaining = max(limit + period.extra_seconds - period.used_seconds - period.reserved_seconds, 0)
            raise QuotaError(
                "quota_exceeded",
                _(
                    "This video needs %(needed)s s of render time but %(left)s s are left this period (renews "
                    "%(renews)s). Upgrade or wait for the renewal."
                )
                % {
                    "needed": whole,
                    "left": remaining,
                    "renews": date_format(timezone.localtime(period.end), "DATE_FORMAT"),
                },
            )
        try:
            with transaction.atomic():
                reservation = Reservation.objects.create(user_id=user.pk, period=period, job_ref=job_ref, seconds=whole)
        except IntegrityError:
            raise QuotaError(
                "already_reserved",
                _("Render time for job %(job)s is already reserved.") % {"job": job_ref},
                status=409,
            ) from None
        UsageEntry.objects.create(period=period, reservation=reservation, kind=UsageEntry.RESERVE, seconds=whole)
    return reservation


def _locked(reservation: Reservation) -> Reservation:
    return Reservation.objects.select_for_update(no_key=True).get(pk=reservation.pk)


def _closed(reservation: Reservation, locked: Reservation) -> Reservation:
    """Bring the caller's instance up to date too (job.reservation.state is right after charge/refund)."""
    reservation.state, reservation.charged_seconds, reservation.closed_at = (
        locked.state,
        locked.charged_seconds,
        locked.closed_at,
    )
    return reservation


def charge(reservation: Reservation, seconds=None) -> Reservation:
    """Count the job's render time as used: `seconds` actually rendered (default: all reserved), the rest is
    released. Charging a charged reservation again changes nothing."""
    with transaction.atomic():
        locked = _locked(reservation)
        if locked.state == Reservation.CHARGED:
            return _closed(reservation, locked)
        if locked.state == Reservation.REFUNDED:
            raise QuotaError("reservation_closed", _("This reservation was refunded; it cannot be charged."), 409)
        used = locked.seconds if seconds is None else _whole_seconds(seconds)
        if used > locked.seconds:
            raise QuotaError(
                "invalid_seconds",
                _("Cannot charge %(used)s s for a reservation of %(reserved)s s.")
                % {"used": used, "reserved": locked.seconds},
                status=400,
            )
        UsagePeriod.objects.filter(pk=locked.period_id).update(
            reserved_seconds=F("reserved_seconds") - locked.seconds, used_seconds=F("used_seconds") + used
        )
        locked.state, locked.charged_seconds, locked.closed_at = Reservation.CHARGED, used, timezone.now()
        locked.save(update_fields=["state", "charged_seconds", "closed_at"])
        UsageEntry.objects.create(period_id=locked.period_id, reservation=locked, kind=UsageEntry.CHARGE, seconds=used)
    return _closed(reservation, locked)


def refund(reservation: Reservation) -> Reservation:
    """Give the time back: a reserved job's hold is released, a charged job's seconds return to the period.
    Refunding twice changes nothing."""
    with transaction.atomic():
        locked = _locked(reservation)
        if locked.state == Reservation.REFUNDED:
            return _closed(reservation, locked)
        if locked.state == Reservation.RESERVED:
            amount = locked.seconds
            UsagePeriod.objects.filter(pk=locked.period_id).update(reserved_seconds=F("reserved_seconds") - amount)
        else:
            amount = locked.charged_seconds or 0
            UsagePeriod.objects.filter(pk=locked.period_id).update(used_seconds=F("used_seconds") - amount)
        locked.state, locked.closed_at = Reservation.REFUNDED, timezone.now()
        locked.save(update_fields=["state", "closed_at"])
        UsageEntry.objects.create(
            period_id=locked.period_id, reservation=locked, kind=UsageEntry.REFUND, seconds=amount
        )
    return _closed(reservation, locked)


def expires_at(created_at: datetime, user) -> datetime:
    """When an output made at created_at falls out of the user's plan retention (for the jobs app's cleanup)."""
    return created_at + timedelta(days=plan_for(user).retention_days)
