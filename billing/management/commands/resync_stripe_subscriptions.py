"""Safety net for missed webhooks: re-read subscriptions from Stripe and upsert the accounts (run it daily)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from billing import stripe_api
from billing.models import BillingAccount
from billing.plans import billing_enabled
from billing.sync import sync_subscription


class Command(BaseCommand):
    help = "Re-sync accounts past their period end, past due or not synced for a day (--all: every subscription)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every account with a subscription")

    def handle(self, *args, **options):
        if not billing_enabled():
            raise CommandError("STRIPE_SECRET_KEY is not set: billing is off, there is nothing to sync.")
        now = timezone.now()
        accounts = BillingAccount.objects.exclude(stripe_subscription_id="")
        if not options["all"]:
            accounts = accounts.filter(
                Q(current_period_end__lte=now)
                | Q(subscription_status="past_due")
                | Q(synced_at__isnull=True)
                | Q(synced_at__lt=now - timedelta(days=1))
            )
        synced, failed = 0, []
        for account in accounts.select_related("user"):
            try:
                sync_subscription(account.pk, account.stripe_subscription_id, source="resync_command")
                synced += 1
            except stripe_api.StripeUnavailable as error:
                failed.append(f"{account.user}: {error}")
        self.stdout.write(f"{synced} account(s) re-synced from Stripe.")
        if failed:
            raise CommandError("Could not re-sync: " + "; ".join(failed))
