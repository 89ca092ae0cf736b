"""Keeps the current broker message id of each job, part and webhook delivery in the database, retries included.

Dramatiq's Redis broker files every enqueue, a retry too, under a new id; the reconciler looks a queued job's (or
part's) message up by the id recorded here, so a job waiting for its retry's backoff is never sent a second time.
"""

import logging

from django.db import DatabaseError
from dramatiq import Middleware

logger = logging.getLogger(__name__)


class RecordMessageIds(Middleware):
    """Record the id under which the broker filed a job's or part's message."""

    def after_enqueue(self, broker, message, delay):
        """Store the message's broker id on its job or part row."""
        from portal.jobs.models import Job, JobSegment, WebhookDelivery

        broker_id = message.options.get("redis_message_id", message.message_id)
        kind = message.actor_name.split("_", 2)[:2]
        try:
            if kind in (["render", "job"], ["stitch", "job"]):
                Job.objects.filter(pk=message.args[0]).update(message_id=broker_id)
            elif kind == ["render", "segment"]:
                JobSegment.objects.filter(job_id=message.args[0], index=message.args[1]).update(message_id=broker_id)
            elif message.actor_name == "deliver_webhook":
                WebhookDelivery.objects.filter(pk=message.args[0]).update(message_id=broker_id)
        except DatabaseError:
            # The message is queued; at worst the reconciler, not finding the old id, sends a harmless copy.
            logger.warning("could not record message %s of %s", broker_id, message.actor_name, exc_info=True)
