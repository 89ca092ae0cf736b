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


def test_every_message_the_portal_sends_has_an_actor_in_a_worker(capsys):
    """Messages go by actor name (portal/queue.py): each name must be declared by a module a worker loads."""
    from django_dramatiq.management.commands.rundramatiq import Command

    from portal import queue

    assert set(queue.ACTOR_MODULES) <= set(Command().discover_tasks_modules())
    queue.declare_actors()
    broker = dramatiq.get_broker()
    for queue_name in queue.RENDER_QUEUES:
        for stem in (queue.RENDER_JOB, queue.RENDER_PART, queue.JOIN_PARTS):
            actor = broker.get_actor(queue.render_actor_for_queue(stem, queue_name))
            assert actor.queue_name == queue_name
    assert broker.get_actor(queue.DELIVER_WEBHOOK).queue_name == queue.WEBHOOK_QUEUE
    assert broker.get_actor(queue.CHECK_UPLOAD).queue_name == queue.UPLOAD_CHECK_QUEUE
