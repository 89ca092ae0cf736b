import pytest

from tests.billing.billing_helpers import WEBHOOK_SECRET, FakeStripe


@pytest.fixture
def fake_stripe():
    with FakeStripe() as fake:
        yield fake


@pytest.fixture
def billing_on(settings, fake_stripe):
    """Stripe keys set and the SDK pointed at the recording fake; returns the fake."""
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake_stripe.url
    return fake_stripe
