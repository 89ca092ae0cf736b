"""Which render backends the live workers offer, kept in Redis by the workers themselves.

A worker announces the backends it renders (those of its queues that `renderer doctor` says run on its machine)
when it boots, every few seconds while it runs, and takes the announcement back when it stops. A submission for a
backend that no live worker offers is refused at once, rather than waiting in a queue nobody reads.
"""

import json
import logging
import os
import socket
import threading
import time

import dramatiq
from dramatiq import Middleware
from redis.exceptions import RedisError

import renderer
from portal import queue

logger = logging.getLogger(__name__)
ANNOUNCE_EVERY_SECONDS = 10
# A worker not heard from for this long is taken for gone (it was killed, or its machine is off).
PRESENCE_SECONDS = 45


def _key(broker) -> str:
    return f"{broker.namespace}:portal.workers"


def announce(worker: str, backends: list[str]) -> None:
    """Say that `worker` ("host:pid:n") renders these backends, as of now."""
    broker = dramatiq.get_broker()
    broker.client.hset(_key(broker), worker, json.dumps({"backends": backends, "seen": time.time()}))


def offered_backends() -> set[str]:
    """Backends at least one live worker renders."""
    broker = dramatiq.get_broker()
    try:
        announcements = broker.client.hgetall(_key(broker))
    except RedisError:
        logger.warning("could not read the workers' announcements", exc_info=True)
        return set()
    fresh_after = time.time() - PRESENCE_SECONDS
    offered = set()
    for raw in announcements.values():
        announcement = json.loads(raw)
        if announcement["seen"] > fresh_after:
            offered.update(announcement["backends"])
    return offered


def backends_for_queues(queues) -> list[str]:
    """The backends whose render queues are among `queues` (None: every queue) and that run on this machine."""
    available = {name for name, (ok, _) in renderer.available_backends().items() if ok}
    return [
        backend
        for backend in renderer.BACKEND_NAMES
        if backend in available
        and (queues is None or any(queue.render_queue(backend, tier) in queues for tier in queue.TIERS))
    ]


class WorkerPresence(Middleware):
    """Announce this worker's backends in Redis while it runs."""

    def __init__(self):
        self.stopping = threading.Event()

    def after_worker_boot(self, broker, worker):
        """Announce at once, then keep announcing from a thread."""
        self.field = f"{socket.gethostname()}:{os.getpid()}:{id(worker)}"
        self.backends = backends_for_queues(worker.consumer_whitelist)
        self.stopping.clear()
        self._announce()
        threading.Thread(target=self._keep_announcing, name="presence", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        """Take the announcement back."""
        self.stopping.set()
        try:
            broker.client.hdel(_key(broker), self.field)
        except RedisError:
            pass  # it goes stale on its own

    def _keep_announcing(self) -> None:
        while not self.stopping.wait(ANNOUNCE_EVERY_SECONDS):
            self._announce()

    def _announce(self) -> None:
        try:
            announce(self.field, self.backends)
        except RedisError:
            logger.warning("could not announce this worker's backends", exc_info=True)
