"""Create or update a Stripe Product and monthly Price (with a lookup key) for each paid plan; safe to run again."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing import stripe_api
from billing.models import StripePrice
from billing.plans import billing_enabled, paid_plans

CURRENCY = "usd"


class Command(BaseCommand):
    help = "Create or update the Stripe Products and Prices of the paid plans (idempotent)."

    def handle(self, *args, **options):
        if not billing_enabled():
            raise CommandError("STRIPE_SECRET_KEY is not set: billing is off, there is nothing to sync.")
        try:
            for plan in paid_plans():
                self._sync(plan)
        except stripe_api.StripeUnavailable as error:
            raise CommandError(f"Stripe refused or could not be reached: {error}") from error

    def _sync(self, plan):
        product_id = f"sonic_{plan.code}"
        metadata = {"plan": plan.code}
        product = stripe_api.retrieve_product(product_id)
        if product is None:
            stripe_api.create_product(
                product_id=product_id, name=f"Sonic Portal {plan.name}", description=plan.summary, metadata=metadata
            )
            product_note = "product created"
        elif (product.get("name"), product.get("description"), product.get("active")) != (
            f"Sonic Portal {plan.name}",
            plan.summary,
            True,
        ):
            stripe_api.update_product(
                product_id, name=f"Sonic Portal {plan.name}", description=plan.summary, metadata=metadata
            )
            product_note = "product updated"
        else:
            product_note = "product unchanged"

        price = stripe_api.find_price(plan.lookup_key)
        if price and self._matches(price, plan, product_id):
            price_note = "price unchanged"
        else:
            old = price
            price = stripe_api.create_price(
                product_id=product_id,
                lookup_key=plan.lookup_key,
                unit_amount=plan.monthly_price_cents,
                currency=CURRENCY,
                metadata=metadata,
            )
            if old:
                stripe_api.deactivate_price(old["id"])
            price_note = "price created" + (f", {old['id']} retired" if old else "")
        StripePrice.objects.update_or_create(
            plan_code=plan.code,
            defaults={
                "lookup_key": plan.lookup_key,
                "product_id": product_id,
                "price_id": price["id"],
                "unit_amount": plan.monthly_price_cents,
                "currency": CURRENCY,
                "synced_at": timezone.now(),
            },
        )
        self.stdout.write(f"{plan.code}: {product_note}; {price_note} ({price['id']}, {plan.lookup_key})")

    @staticmethod
    def _matches(price: dict, plan, product_id: str) -> bool:
        recurring = price.get("recurring") or {}
        product = price.get("product")
        product = product.get("id") if isinstance(product, dict) else product
        return (
            price.get("unit_amount") == plan.monthly_price_cents
            and price.get("currency") == CURRENCY
            and recurring.get("interval") == "month"
            and price.get("active", True)
            and product == product_id
        )
