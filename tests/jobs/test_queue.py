"""The configured Dramatiq broker talks to the real Redis at REDIS_URL and a worker processes its messages."""

import dramatiq
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

from tests.factories import running_worker

received: list[int] = []


@dramatiq.actor(queue_name="queue-smoke-test", max_retries=0)
def record(number):
    received.append(number)


def test_message_goes_through_redis_to_a_worker():
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    with running_worker(threads=1) as worker:
        record.send(41)
        record.send(42)
        redis = Redis.from_url(settings.REDIS_URL)
        namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
        assert redis.keys(f"{namespace}:*"), "messages live in Redis under the run's namespace"
        broker.join(record.queue_name, timeout=10_000)
        worker.join()
    assert sorted(received) == [41, 42]
