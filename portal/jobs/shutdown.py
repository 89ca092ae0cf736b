"""What a worker told to stop (SIGTERM: a deploy, a scale-down, a node drain) does with the renders it is running.

Dramatiq stops taking messages at once and puts the ones it had fetched but not started back on their queues. A
render already running may finish for WORKER_SHUTDOWN_SECONDS; one still running then is stopped, and its job or
part goes back to the queue as a new message without counting as an attempt (the user's job is not at fault), so
another worker takes it at once. Set WORKER_SHUTDOWN_SECONDS below the time the process manager waits before it
kills (Kubernetes' terminationGracePeriodSeconds), with room for the hand-back and Dramatiq's own exit.
"""

import logging
import threading

from django.conf import settings
from dramatiq import Middleware

logger = logging.getLogger(__name__)
_hand_back_now = threading.Event()


def handing_back() -> bool:
    """True once this stopping worker's renders must hand their work back rather than finish it."""
    return _hand_back_now.is_set()


class HandBackOnShutdown(Middleware):
    """Give running renders WORKER_SHUTDOWN_SECONDS to finish once the worker is told to stop, then hand them back."""

    def __init__(self):
        self.timer = None

    def before_worker_shutdown(self, broker, worker):
        """Start the clock for the renders still running."""
        seconds = settings.WORKER_SHUTDOWN_SECONDS
        logger.info("stopping: running renders have %.0f s to finish before they are handed back", seconds)
        self.timer = threading.Timer(seconds, _hand_back_now.set)
        self.timer.daemon = True
        self.timer.start()

    def after_worker_shutdown(self, broker, worker):
        """Every render has ended: a worker started again in this process begins with nothing to hand back."""
        if self.timer is not None:
            self.timer.cancel()
        _hand_back_now.clear()
