import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.plans import FREE, PLAN_CHOICES, Plan, billing_enabled, get_plan

# Stripe subscription statuses that keep the paid plan (past_due only during the grace period).
ACTIVE_STATUSES = {"active", "trialing"}
# Statuses whose plan is kept until the end of the period already paid for, then Free.
ENDED_STATUSES = {"canceled", "unpaid", "incomplete_expired"}


class BillingAccount(models.Model):
    """A user's billing state: the mirror of their Stripe subscription, kept up to date by webhooks."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_account")
    plan_override = models.CharField(
        "staff-assigned plan",
        max_length=20,
        choices=PLAN_CHOICES,
        blank=True,
        help_text="Set by support; wins over the Stripe subscription (and is the only way to a paid plan while "
        "billing is off). Blank: follow the subscription.",
    )
    subscribed_plan = models.CharField(
        max_length=20, choices=PLAN_CHOICES, blank=True, help_text="The plan of the Stripe subscription."
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True, default=None)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    checkout_session_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="The last Checkout Session made; a new one expires it first, so two "
        "tabs can never pay for two subscriptions.",
    )
    subscription_status = models.CharField(max_length=32, blank=True, help_text="As Stripe last reported it.")
    cancel_at_period_end = models.BooleanField(default=False)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True, help_text="Last time the state was read from Stripe.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"billing of {self.user}"

    # --- The rules, in one place --------------------------------------------------------------------------
    def grace_ends_at(self):
        if self.subscription_status != "past_due" or self.past_due_since is None:
            return None
        return self.past_due_since + timedelta(days=settings.BILLING_PAST_DUE_GRACE_DAYS)

    def subscription_grants_plan(self, now=None) -> bool:
        """Whether the Stripe subscription (not a staff override) currently gives self.subscribed_plan."""
        now = now or timezone.now()
        if not billing_enabled() or not self.subscribed_plan or not self.stripe_subscription_id:
            return False
        status = self.subscription_status
        if status in ACTIVE_STATUSES:
            return True
        if status == "past_due":
            grace_end = self.grace_ends_at()
            return grace_end is None or now < grace_end
        if status in ENDED_STATUSES:
            return self.current_period_end is not None and now < self.current_period_end
        return False  # incomplete, paused, unknown

    def effective_plan_code(self, now=None) -> str:
        if self.plan_override:
            return self.plan_override
        if self.subscription_grants_plan(now):
            return self.subscribed_plan
        return FREE

    def in_grace(self, now=None) -> bool:
        return not self.plan_override and self.subscription_status == "past_due" and self.subscription_grants_plan(now)

    def snapshot(self) -> dict:
        """The fields support cares about, for the audit trail."""

        def iso(value):
            return value.isoformat() if value else None

        return {
            "effective_plan": self.effective_plan_code(),
            "plan_override": self.plan_override,
            "subscribed_plan": self.subscribed_plan,
            "stripe_customer_id": self.stripe_customer_id,
            "stripe_subscription_id": self.stripe_subscription_id,
            "subscription_status": self.subscription_status,
            "cancel_at_period_end": self.cancel_at_period_end,
            "current_period_start": iso(self.current_period_start),
            "current_period_end": iso(self.current_period_end),
            "past_due_since": iso(self.past_due_since),
        }


class BillingEvent(models.Model):
    """The audit trail: every change of an account's billing state, and who or what made it."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=32, help_text="webhook, admin, checkout, sync_command, ...")
    kind = models.CharField(max_length=64)
    message = models.TextField(blank=True)
    stripe_event_id = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} ({self.source})"


class StripeEvent(models.Model):
    """Each Stripe webhook event, stored once: a second delivery of the same id has no effect."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=128)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    received_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=32, help_text="processed, ignored or no_account")
    detail = models.TextField(blank=True)
    account = models.ForeignKey(BillingAccount, on_delete=models.SET_NULL, null=True, blank=True)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.event_id}"


class StripePrice(models.Model):
    """The Stripe Product and Price of a paid plan, as `sync_stripe_plans` last made them; Checkout uses price_id."""

    plan_code = models.CharField(max_length=20, choices=PLAN_CHOICES, unique=True)
    lookup_key = models.CharField(max_length=100)
    product_id = models.CharField(max_length=255)
    price_id = models.CharField(max_length=255)
    unit_amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3, default="usd")
    synced_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.plan_code}: {self.price_id}"


class UsagePeriod(models.Model):
    """Render seconds of one user in one billing period. The counters only move through billing.quota."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_periods")
    start = models.DateTimeField()
    end = models.DateTimeField()
    used_seconds = models.PositiveIntegerField(default=0, help_text="Charged render seconds.")
    reserved_seconds = models.PositiveIntegerField(default=0, help_text="Held for jobs not finished yet.")
    extra_seconds = models.PositiveIntegerField(
        default=0, help_text="Granted by support on top of the plan's monthly seconds, for this period only."
    )

    class Meta:
        ordering = ["-start"]
        constraints = [models.UniqueConstraint(fields=["user", "start"], name="usage_period_once_per_user_start")]

    def __str__(self):
        return f"{self.user} {self.start:%Y-%m-%d}–{self.end:%Y-%m-%d}"


class Reservation(models.Model):
    """Render seconds held for one job: reserved at submit, then charged (job done) or refunded (job failed)."""

    RESERVED, CHARGED, REFUNDED = "reserved", "charged", "refunded"
    STATES = [(RESERVED, "reserved"), (CHARGED, "charged"), (REFUNDED, "refunded")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations")
    period = models.ForeignKey(UsagePeriod, on_delete=models.CASCADE, related_name="reservations")
    job_ref = models.CharField(max_length=100, help_text="The render job this is for (the jobs app's id).")
    seconds = models.PositiveIntegerField(help_text="Seconds reserved.")
    charged_seconds = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=STATES, default=RESERVED)
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "job_ref"], name="reservation_once_per_job")]

    def __str__(self):
        return f"{self.job_ref}: {self.seconds}s {self.state}"


class UsageEntry(models.Model):
    """The ledger: one row per reserve, charge or refund, so every second of a period can be accounted for."""

    RESERVE, CHARGE, REFUND = "reserve", "charge", "refund"
    KINDS = [(RESERVE, "reserve"), (CHARGE, "charge"), (REFUND, "refund")]

    period = models.ForeignKey(UsagePeriod, on_delete=models.CASCADE, related_name="entries")
    reservation = models.ForeignKey(Reservation, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=16, choices=KINDS)
    seconds = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "usage entries"

    def __str__(self):
        return f"{self.kind} {self.seconds}s"


def plan_for(user) -> Plan:
    """The plan whose limits apply to this user right now, from the local database only."""
    account = BillingAccount.objects.filter(user_id=user.pk).first()
    if account is None:
        return get_plan(FREE)
    return get_plan(account.effective_plan_code())
