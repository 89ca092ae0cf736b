"""The only module that imports stripe: every call our code makes to Stripe goes through here.

A client is built per call from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE), so tests point it at a local server
by setting STRIPE_API_BASE; nothing else about Stripe is replaced. Results are plain dicts.
"""

import json
import logging
import time

import stripe
from django.conf import settings

log = logging.getLogger(__name__)


class StripeUnavailable(Exception):
    """Stripe could not be reached or refused the request; `message` is safe to log, not to show."""


class BadSignature(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=1,
        # A person waits on Checkout and the Customer Portal: fail in seconds, not the SDK's default 80 s.
        http_client=stripe.new_default_http_client(timeout=20),
    )


def _call(what: str, fn, *args, **kwargs) -> dict:
    try:
        result = fn(*args, **kwargs)
    except stripe.StripeError as error:
        log.warning("stripe %s failed: %s", what, error)
        raise StripeUnavailable(f"{what}: {error.user_message or error}") from error
    return result.to_dict() if hasattr(result, "to_dict") else result


def _is_missing(error: StripeUnavailable) -> bool:
    cause = error.__cause__
    return isinstance(cause, stripe.InvalidRequestError) and getattr(cause, "http_status", None) == 404


# --- Webhooks ---------------------------------------------------------------------------------------------------
def verify_event(payload: bytes, signature_header: str | None) -> dict:
    """The event in a webhook body, after checking its signature and age against STRIPE_WEBHOOK_SECRET."""
    if not signature_header:
        raise BadSignature("missing_signature", "The Stripe-Signature header is missing.")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature_header,
            settings.STRIPE_WEBHOOK_SECRET,
            tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
        # Stripe's check only looks back: a timestamp far ahead would keep a captured delivery replayable for as
        # long as it names. Ahead by more than the same tolerance (clock skew) is refused too.
        if _signed_at(signature_header) > time.time() + settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS:
            raise stripe.SignatureVerificationError("Timestamp outside the tolerance zone", signature_header, payload)
    except UnicodeDecodeError:
        raise BadSignature("invalid_payload", "The body is not UTF-8 text.") from None
    except stripe.SignatureVerificationError as error:
        if "tolerance" in str(error):
            raise BadSignature("stale_signature", "The signature timestamp is too old (or in the future).") from None
        raise BadSignature("invalid_signature", "The signature does not match the body.") from None
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadSignature("invalid_payload", "The body is not JSON.") from None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise BadSignature("invalid_payload", "The body is not a Stripe event.")
    return event


def _signed_at(signature_header: str) -> int:
    """The first t= of a Stripe-Signature header: the timestamp Stripe's own check read."""
    for item in signature_header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            return int(value)
    return 0


# --- Customers and subscriptions --------------------------------------------------------------------------------
def create_customer(*, email: str, user_id: int) -> dict:
    return _call(
        "create customer",
        _client().v1.customers.create,
        params={"email": email, "metadata": {"user_id": str(user_id)}},
        options={"idempotency_key": f"sonic-customer-{user_id}"},
    )


def retrieve_subscription(subscription_id: str) -> dict:
    return _call("retrieve subscription", _client().v1.subscriptions.retrieve, subscription_id)


def create_subscription(*, customer_id: str, price_id: str, user_id: int) -> dict:
    """A subscription made directly (support, and the localstripe test); people subscribe through Checkout.

    The item names the price with the legacy `plan` parameter: Stripe accepts a price id there, and it is the only
    form localstripe understands."""
    return _call(
        "create subscription",
        _client().v1.subscriptions.create,
        params={"customer": customer_id, "items": [{"plan": price_id}], "metadata": {"user_id": str(user_id)}},
    )


def cancel_subscription(subscription_id: str) -> dict:
    return _call("cancel subscription", _client().v1.subscriptions.cancel, subscription_id)


# --- Checkout and the Customer Portal ----------------------------------------------------------------------------
def retrieve_checkout_session(session_id: str) -> dict:
    return _call("retrieve checkout session", _client().v1.checkout.sessions.retrieve, session_id)


def expire_checkout_session(session_id: str) -> dict:
    return _call("expire checkout session", _client().v1.checkout.sessions.expire, session_id)


def create_checkout_session(
    *, customer_id: str, price_id: str, user_id: int, plan_code: str, success_url: str, cancel_url: str
) -> dict:
    return _call(
        "create checkout session",
        _client().v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(user_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "metadata": {"user_id": str(user_id), "plan": plan_code},
            "subscription_data": {"metadata": {"user_id": str(user_id), "plan": plan_code}},
        },
    )


def create_portal_session(*, customer_id: str, return_url: str) -> dict:
    return _call(
        "create portal session",
        _client().v1.billing_portal.sessions.create,
        params={"customer": customer_id, "return_url": return_url},
    )


# --- Products and prices (sync_stripe_plans) --------------------------------------------------------------------
def retrieve_product(product_id: str) -> dict | None:
    try:
        return _call("retrieve product", _client().v1.products.retrieve, product_id)
    except StripeUnavailable as error:
        if _is_missing(error):
            return None
        raise


def create_product(*, product_id: str, name: str, description: str, metadata: dict) -> dict:
    return _call(
        "create product",
        _client().v1.products.create,
        params={"id": product_id, "name": name, "description": description, "metadata": metadata},
    )


def update_product(product_id: str, *, name: str, description: str, metadata: dict) -> dict:
    return _call(
        "update product",
        _client().v1.products.update,
        product_id,
        params={"name": name, "description": description, "metadata": metadata, "active": True},
    )


def find_price(lookup_key: str) -> dict | None:
    found = _call("list prices", _client().v1.prices.list, params={"lookup_keys": [lookup_key], "limit": 1})
    data = found.get("data") or []
    return data[0] if data else None


def create_price(*, product_id: str, lookup_key: str, unit_amount: int, currency: str, metadata: dict) -> dict:
    """A monthly recurring price that takes the lookup key over from any older price of the plan."""
    return _call(
        "create price",
        _client().v1.prices.create,
        params={
            "product": product_id,
            "unit_amount": unit_amount,
            "currency": currency,
            "recurring": {"interval": "month"},
            "lookup_key": lookup_key,
            "transfer_lookup_key": True,
            "metadata": metadata,
        },
    )


def deactivate_price(price_id: str) -> dict:
    return _call("deactivate price", _client().v1.prices.update, price_id, params={"active": False})
