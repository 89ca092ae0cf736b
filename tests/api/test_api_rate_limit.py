"""Requests per minute per key, set by the plan and counted in Redis (shared by every web process)."""

import dramatiq
import pytest

from billing.plans import get_plan
from portal import request_rates
from portal.api import keys
from tests.api.conftest import assert_error, key_client


@pytest.mark.slow
def test_over_the_plans_limit_is_429_with_retry_after_and_ratelimit_headers(api, marketer, fresh_window):
    limit = get_plan("pro").api_requests_per_minute
    first = api.get("/api/v1/me/")
    assert first["RateLimit-Limit"] == str(limit) and first["RateLimit-Remaining"] == str(limit - 1)
    for _ in range(limit - 1):
        last = api.get("/api/v1/me/")
    assert last.status_code == 200 and last["RateLimit-Remaining"] == "0"

    refused = api.get("/api/v1/me/")
    error = assert_error(refused, 429, "rate_limited")
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 60 and f"{wait} s" in error["message"]
    assert refused["RateLimit-Remaining"] == "0" and refused["RateLimit-Reset"] == str(wait)


@pytest.mark.slow
def test_each_key_has_its_own_budget(api, marketer, fresh_window):
    _, other_key = keys.create(marketer, "second integration")
    for _ in range(get_plan("pro").api_requests_per_minute):
        api.get("/api/v1/me/")
    assert api.get("/api/v1/me/").status_code == 429
    assert key_client(other_key).get("/api/v1/me/").status_code == 200


def test_a_bigger_plan_has_a_bigger_budget(api, marketer):
    from tests.jobs_helpers import give_plan

    give_plan(marketer, "business")
    assert api.get("/api/v1/me/")["RateLimit-Limit"] == str(get_plan("business").api_requests_per_minute)


def test_the_counts_live_in_redis_where_every_web_process_sees_them(api, marketer, fresh_window):
    api_key = marketer.api_keys.get()
    for _ in range(3):
        api.get("/api/v1/me/")
    broker = dramatiq.get_broker()
    client = broker.client
    (counter,) = client.keys(f"{request_rates.key_prefix(broker)}:key:{api_key.pk}:*")
    assert int(client.get(counter)) == 3
    client.set(counter, 10_000)  # as if other web processes had spent the budget
    assert api.get("/api/v1/me/").status_code == 429
    assert request_rates.WINDOW_SECONDS == 60
