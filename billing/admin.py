from django.conf import settings
from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html_join

from billing import stripe_api
from billing.models import BillingAccount, BillingEvent, Reservation, StripeEvent, StripePrice, UsageEntry, UsagePeriod
from billing.plans import get_plan
from billing.quota import usage_summary
from billing.sync import record, sync_subscription
from portal.support import audit
from portal.support.models import AuditEvent

STRIPE_FIELDS = [
    "subscribed_plan",
    "stripe_customer_id",
    "stripe_subscription_id",
    "subscription_status",
    "cancel_at_period_end",
    "current_period_start",
    "current_period_end",
    "synced_at",
]


def _limits(account) -> str:
    plan = get_plan(account.effective_plan_code())
    return (
        f"{plan.name}: {plan.monthly_render_seconds} s/period, ≤{plan.max_job_seconds} s/job, {plan.max_resolution}p, "
        f"{plan.concurrent_jobs} at once, {filesizeformat(plan.storage_bytes)}, {plan.retention_days} d retention, "
        f"{plan.queue_tier} queue, API {'yes' if plan.api_access else 'no'}, "
        f"watermark {'yes' if plan.watermark else 'no'}"
    )


def _usage(account) -> str:
    summary = usage_summary(account.user)
    quota = get_plan(account.effective_plan_code()).storage_bytes
    return (
        f"{summary['used_seconds']} s used + {summary['reserved_seconds']} s held of {summary['allowance_seconds']} s "
        f"({summary['period_start']:%Y-%m-%d} – {summary['period_end']:%Y-%m-%d}); storage "
        f"{filesizeformat(account.user.storage_used_bytes)} of {filesizeformat(quota)}"
    )


class AuditedAdminMixin:
    """Every change staff make to an account's billing state goes into the audit trail."""

    def _audit(self, request, account, before):
        account.refresh_from_db()
        after = account.snapshot()
        if before != after:
            changed = ", ".join(
                f"{key}: {before.get(key)} → {after[key]}" for key in after if before.get(key) != after[key]
            )
            record(account, source="admin", kind="staff_change", before=before, message=changed, actor=request.user)


class AccountFactsMixin:
    """The read-only columns both account views show: the plan in effect, its limits and this period's usage."""

    @admin.display(description="plan in effect")
    def effective_plan(self, account):
        return get_plan(account.effective_plan_code()).name if account.pk else "Free"

    @admin.display(description="limits")
    def limits(self, account):
        return _limits(account) if account.pk else ""

    @admin.display(description="usage this period")
    def usage(self, account):
        return _usage(account) if account.pk else ""

    @admin.display(description="in the Stripe dashboard")
    def stripe_dashboard(self, account):
        links = [
            (f"customers/{account.stripe_customer_id}", "customer") if account.stripe_customer_id else None,
            (f"subscriptions/{account.stripe_subscription_id}", "subscription")
            if account.stripe_subscription_id
            else None,
        ]
        base = settings.STRIPE_DASHBOARD_URL.rstrip("/")
        if settings.STRIPE_SECRET_KEY.startswith("sk_test_"):
            base += "/test"  # test-mode objects live under /test in the dashboard
        return (
            format_html_join(
                " · ",
                '<a href="{}/{}" target="_blank" rel="noopener">{}</a>',
                ((base, *link) for link in links if link),
            )
            or "-"
        )


class BillingAccountInline(AccountFactsMixin, AuditedAdminMixin, admin.StackedInline):
    """Shown on the user's admin page: plan, limits, usage and Stripe ids; staff may set plan_override."""

    model = BillingAccount
    can_delete = False
    max_num = 1
    fields = [
        "effective_plan",
        "plan_override",
        "limits",
        "usage",
        "past_due_since",
        "stripe_dashboard",
        *STRIPE_FIELDS,
    ]
    readonly_fields = ["effective_plan", "limits", "usage", "stripe_dashboard", *STRIPE_FIELDS]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        audit = self._audit

        class AuditedFormSet(formset):
            def save_existing(self, form, instance, commit=True):
                before = BillingAccount.objects.get(pk=instance.pk).snapshot()
                saved = super().save_existing(form, instance, commit=commit)
                audit(request, saved, before)
                return saved

            def save_new(self, form, commit=True):
                saved = super().save_new(form, commit=commit)
                audit(request, saved, {})
                return saved

        return AuditedFormSet


@admin.register(BillingAccount)
class BillingAccountAdmin(AccountFactsMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "user",
        "effective_plan",
        "plan_override",
        "subscribed_plan",
        "subscription_status",
        "current_period_end",
        "stripe_customer_id",
    ]
    list_filter = ["plan_override", "subscribed_plan", "subscription_status"]
    search_fields = ["user__email", "stripe_customer_id", "stripe_subscription_id"]
    raw_id_fields = ["user"]
    fields = [
        "user",
        "effective_plan",
        "plan_override",
        "limits",
        "usage",
        "past_due_since",
        "stripe_dashboard",
        *STRIPE_FIELDS,
    ]
    readonly_fields = ["effective_plan", "limits", "usage", "stripe_dashboard", *STRIPE_FIELDS]
    actions = ["resync_from_stripe"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        before = BillingAccount.objects.get(pk=obj.pk).snapshot() if obj.pk else {}
        super().save_model(request, obj, form, change)
        self._audit(request, obj, before)

    @admin.action(description="Re-read the subscription from Stripe")
    def resync_from_stripe(self, request, queryset):
        for account in queryset:
            if not account.stripe_subscription_id:
                continue
            try:
                sync_subscription(account.pk, account.stripe_subscription_id, source="admin", actor=request.user)
            except stripe_api.StripeUnavailable as error:
                self.message_user(request, f"{account.user}: {error}", messages.ERROR)
            else:
                self.log_change(request, account, "Re-read the subscription from Stripe")
        self.message_user(request, "Re-synced from Stripe.")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BillingEvent)
class BillingEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "account", "source", "kind", "message", "actor"]
    list_filter = ["source", "kind"]
    search_fields = ["account__user__email", "stripe_event_id", "message"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "outcome", "account", "detail"]
    list_filter = ["type", "outcome"]
    search_fields = ["event_id", "account__user__email"]


@admin.register(StripePrice)
class StripePriceAdmin(ReadOnlyAdmin):
    list_display = ["plan_code", "lookup_key", "price_id", "product_id", "unit_amount", "currency", "synced_at"]


class UsageEntryInline(admin.TabularInline):
    model = UsageEntry
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "kind", "seconds", "reservation"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(UsagePeriod)
class UsagePeriodAdmin(admin.ModelAdmin):
    """Support may grant extra seconds for a period; the counters themselves only move through billing.quota."""

    list_display = ["user", "start", "end", "used_seconds", "reserved_seconds", "extra_seconds"]
    search_fields = ["user__email"]
    fields = ["user", "start", "end", "used_seconds", "reserved_seconds", "extra_seconds"]
    readonly_fields = ["user", "start", "end", "used_seconds", "reserved_seconds"]
    inlines = [UsageEntryInline]

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        old = UsagePeriod.objects.get(pk=obj.pk).extra_seconds
        super().save_model(request, obj, form, change)
        if old != obj.extra_seconds:
            account, _ = BillingAccount.objects.get_or_create(user=obj.user)
            record(
                account,
                source="admin",
                kind="extra_seconds_granted",
                actor=request.user,
                message=f"period from {obj.start:%Y-%m-%d}: extra seconds {old} → {obj.extra_seconds}",
            )
            audit.record(
                AuditEvent.Action.SECONDS_GRANTED, actor=request.user, user=obj.user, seconds=obj.extra_seconds - old
            )


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "job_ref", "seconds", "charged_seconds", "state"]
    list_filter = ["state"]
    search_fields = ["user__email", "job_ref"]
