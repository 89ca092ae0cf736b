"""Stripe webhook deliveries whose signature names a time far from now are refused, in the future as in the past:
a captured delivery must not stay replayable for as long as its forger likes."""

import time

import pytest

from billing.models import StripeEvent
from tests.billing.billing_helpers import event, post_event
from tests.billing.conftest import billing_on, fake_stripe  # noqa: F401 (fixtures)


@pytest.mark.parametrize(
    "offset, accepted", [(-301, False), (-60, True), (60, True), (301, False), (86_400 * 365, False)]
)
def test_a_signature_is_good_only_near_now(client, db, billing_on, offset, accepted):  # noqa: F811
    evt = event("customer.created", {"id": "cus_x", "object": "customer", "metadata": {}})
    response = post_event(client, evt, timestamp=time.time() + offset)
    if accepted:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 400 and response.json()["error"]["code"] == "stale_signature"
        assert not StripeEvent.objects.exists()
