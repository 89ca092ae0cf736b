"""The configured Dramatiq broker talks to the real Redis at REDIS_URL and a worker processes its messages."""

import dramatiq
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker
from redis import Redis

received: list[int] = []


def test_message_goes_through_redis_to_a_worker():
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)

    @dramatiq.actor(queue_name="queue-smoke-test", max_retries=0, broker=broker)
    def record(number):
        received.append(number)

    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        record.send(41)
        record.send(42)
        redis = Redis.from_url(settings.REDIS_URL)
        namespace = settings.DRAMATIQ_BROKER["OPTIONS"]["namespace"]
        assert any(key.startswith(namespace.encode()) for key in redis.keys(f"{namespace}*"))
        broker.join(record.queue_name, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
        broker.flush_all()
    assert sorted(received) == [41, 42]
