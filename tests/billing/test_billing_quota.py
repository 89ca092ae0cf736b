import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing import quota
from billing.models import BillingAccount, Reservation, UsageEntry, UsagePeriod, plan_for
from billing.plans import BUSINESS, FREE, PLANS, PRO, TEACHER, get_plan
from billing.quota import QuotaError, charge, refund, reserve_seconds
from portal.accounts.models import User
from portal.library.usage import storage_quota_bytes


def test_the_plan_table_has_every_limit_for_every_plan():
    assert list(PLANS) == [FREE, TEACHER, PRO, BUSINESS]
    free, teacher, pro, business = (get_plan(code) for code in PLANS)
    assert free.watermark and not teacher.watermark and not pro.watermark and not business.watermark
    assert (free.queue_tier, teacher.queue_tier, pro.queue_tier) == ("free", "paid", "paid")
    assert not free.api_access and not teacher.api_access and pro.api_access and business.api_access
    for cheaper, dearer in [(free, teacher), (teacher, pro), (pro, business)]:
        for limit in [
            "monthly_render_seconds",
            "max_job_seconds",
            "max_resolution",
            "concurrent_jobs",
            "storage_bytes",
            "retention_days",
            "monthly_price_cents",
        ]:
            assert getattr(cheaper, limit) < getattr(dearer, limit), (cheaper.code, limit)
    assert {p.lookup_key for p in (teacher, pro, business)} == {
        "sonic_teacher_monthly",
        "sonic_pro_monthly",
        "sonic_business_monthly",
    }


def test_everyone_starts_on_free_and_storage_follows_the_plan(owner, settings):
    settings.STORAGE_QUOTA_BYTES = 12345
    assert plan_for(owner).code == FREE
    assert storage_quota_bytes(owner) == 12345
    BillingAccount.objects.create(user=owner, plan_override=PRO)
    assert plan_for(owner).code == PRO
    assert storage_quota_bytes(owner) == get_plan(PRO).storage_bytes


def test_with_billing_off_a_stripe_subscription_gives_nothing_but_staff_plans_apply(owner, settings):
    settings.STRIPE_SECRET_KEY = ""
    now = timezone.now()
    account = BillingAccount.objects.create(
        user=owner,
        subscribed_plan=PRO,
        stripe_subscription_id="sub_1",
        subscription_status="active",
        current_period_start=now - timedelta(days=1),
        current_period_end=now + timedelta(days=29),
    )
    assert plan_for(owner).code == FREE
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert plan_for(owner).code == PRO
    settings.STRIPE_SECRET_KEY = ""
    account.plan_override = TEACHER
    account.save()
    assert plan_for(owner).code == TEACHER


def test_reserve_charge_and_refund_move_the_period_counters_and_the_ledger(owner):
    first = reserve_seconds(owner, 50.2, "job-1")  # rounded up
    second = reserve_seconds(owner, 60, "job-2")
    assert first.seconds == 51
    period = UsagePeriod.objects.get(user=owner)
    assert (period.used_seconds, period.reserved_seconds) == (0, 111)

    charge(first, 40)  # rendered less than reserved: the rest is released
    refund(second)  # failed job
    assert (first.state, first.charged_seconds, second.state) == ("charged", 40, "refunded")  # caller's objects too
    period.refresh_from_db()
    assert (period.used_seconds, period.reserved_seconds) == (40, 0)
    assert quota.usage_summary(owner)["remaining_seconds"] == 300 - 40

    assert charge(first).charged_seconds == 40  # charging again changes nothing
    refund(second)  # nor does refunding again
    period.refresh_from_db()
    assert (period.used_seconds, period.reserved_seconds) == (40, 0)
    with pytest.raises(QuotaError) as closed:
        charge(second)
    assert closed.value.code == "reservation_closed"

    refund(first)  # support gives a charged job's time back
    period.refresh_from_db()
    assert (period.used_seconds, period.reserved_seconds) == (0, 0)
    kinds = list(UsageEntry.objects.values_list("reservation__job_ref", "kind", "seconds"))
    assert kinds == [
        ("job-1", "reserve", 51),
        ("job-2", "reserve", 60),
        ("job-1", "charge", 40),
        ("job-2", "refund", 60),
        ("job-1", "refund", 40),
    ]


@pytest.mark.parametrize(
    ("seconds", "job_ref", "code"),
    [
        (0, "j", "invalid_seconds"),
        (-5, "j", "invalid_seconds"),
        ("abc", "j", "invalid_seconds"),
        (float("nan"), "j", "invalid_seconds"),
        (61, "j", "job_too_long"),
        (10, "", "invalid_job_ref"),
        (10, "x" * 101, "invalid_job_ref"),
    ],
)
def test_bad_reservations_are_refused_with_a_code(owner, seconds, job_ref, code):
    with pytest.raises(QuotaError) as refused:
        reserve_seconds(owner, seconds, job_ref)
    assert refused.value.code == code and refused.value.message
    assert not Reservation.objects.exists()


def test_the_allowance_is_never_overspent_and_job_refs_are_used_once(owner):
    for n in range(5):
        reserve_seconds(owner, 60, f"job-{n}")
    with pytest.raises(QuotaError) as refused:
        reserve_seconds(owner, 1, "job-5")
    assert refused.value.code == "quota_exceeded"
    assert "0 s are left" in refused.value.message
    with pytest.raises(QuotaError) as again:
        reserve_seconds(owner, 1, "job-0")
    assert again.value.code in {"quota_exceeded", "already_reserved"}
    refund(Reservation.objects.get(job_ref="job-4"))
    with pytest.raises(QuotaError) as duplicate:
        reserve_seconds(owner, 1, "job-0")
    assert duplicate.value.code == "already_reserved"
    period = UsagePeriod.objects.get(user=owner)
    assert period.reserved_seconds == 240  # the refused duplicate left nothing behind
    period.extra_seconds = 30  # support grants extra time for this period
    period.save()
    reserve_seconds(owner, 60, "job-6")
    reserve_seconds(owner, 30, "job-7")
    with pytest.raises(QuotaError):
        reserve_seconds(owner, 1, "job-8")


def test_usage_resets_each_month_counted_from_signup(owner):
    owner.date_joined = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    owner.save()
    in_january = datetime(2026, 2, 15, tzinfo=UTC)
    assert quota.current_period(owner, in_january) == (
        datetime(2026, 1, 31, 10, 0, tzinfo=UTC),
        datetime(2026, 2, 28, 10, 0, tzinfo=UTC),
    )
    for n in range(5):
        reserve_seconds(owner, 60, f"jan-{n}", now=in_january)
    with pytest.raises(QuotaError):
        reserve_seconds(owner, 60, "jan-5", now=in_january)
    next_period = datetime(2026, 3, 1, tzinfo=UTC)
    reserve_seconds(owner, 60, "mar-0", now=next_period)
    assert quota.current_period(owner, next_period)[0] == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert quota.monthly_period(owner.date_joined, datetime(2027, 1, 1, tzinfo=UTC)) == (
        datetime(2026, 12, 31, 10, 0, tzinfo=UTC),
        datetime(2027, 1, 31, 10, 0, tzinfo=UTC),
    )
    assert UsagePeriod.objects.filter(user=owner).count() == 2


def test_a_subscription_sets_the_period_and_the_allowance(owner, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    start = timezone.now() - timedelta(days=3)
    BillingAccount.objects.create(
        user=owner,
        subscribed_plan=TEACHER,
        stripe_subscription_id="sub_1",
        subscription_status="active",
        current_period_start=start,
        current_period_end=start + timedelta(days=30),
    )
    assert quota.current_period(owner) == (start, start + timedelta(days=30))
    reservation = reserve_seconds(owner, 600, "lesson-1")
    assert reservation.period.start == start
    summary = quota.usage_summary(owner)
    assert (summary["allowance_seconds"], summary["reserved_seconds"], summary["remaining_seconds"]) == (
        3600,
        600,
        3000,
    )


def test_job_checks_follow_the_plan(owner):
    quota.check_job(owner, seconds=60, resolution=512, active_jobs=0)
    for kwargs, code in [
        ({"seconds": 61}, "job_too_long"),
        ({"seconds": 10, "resolution": 720}, "resolution_not_in_plan"),
        ({"seconds": 10, "active_jobs": 1}, "too_many_jobs"),
    ]:
        with pytest.raises(QuotaError) as refused:
            quota.check_job(owner, **kwargs)
        assert refused.value.code == code
    with pytest.raises(QuotaError) as no_api:
        quota.check_api_access(owner)
    assert no_api.value.code == "api_not_in_plan"
    BillingAccount.objects.create(user=owner, plan_override=PRO)
    quota.check_job(owner, seconds=1800, resolution=1080, active_jobs=3)
    quota.check_api_access(owner)
    assert quota.expires_at(datetime(2026, 1, 1, tzinfo=UTC), owner) == datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_reservations_never_overspend():
    user = User.objects.create_user(email="busy@example.com")
    accepted, refused, errors = [], [], []
    start = threading.Barrier(20)

    def submit(n):
        try:
            start.wait()
            reserve_seconds(user, 45, f"job-{n}")
            accepted.append(n)
        except QuotaError as error:
            refused.append(error.code)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(accepted) == 300 // 45 and set(refused) == {"quota_exceeded"}
    period = UsagePeriod.objects.get(user=user)
    assert period.reserved_seconds == 45 * len(accepted) <= 300
    assert Reservation.objects.filter(user=user).count() == len(accepted)
    assert UsageEntry.objects.filter(period=period, kind="reserve").count() == len(accepted)
