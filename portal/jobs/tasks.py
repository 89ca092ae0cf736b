"""Dramatiq actors. They carry ids only; portal.jobs.work does the work."""

import dramatiq
from dramatiq.middleware import CurrentMessage

from portal.jobs import webhooks, work

RENDER_TIME_LIMIT_MS = 30 * 60 * 1000
RENDER_RETRIES = 3
WEBHOOK_RETRIES = 8
# Within a worker, prefetched paid messages run before free ones (lower number first).
PRIORITY = {"render-paid": 0, "render-free": 10}


def _retries_left(maximum: int) -> bool:
    message = CurrentMessage.get_current_message()
    return message is None or message.options.get("retries", 0) < maximum


def _render_actors(function, name: str) -> dict[str, dramatiq.Actor]:
    """One actor per queue, so paid and free work never share a queue. Bad inputs end the job without raising,
    so only transient failures (a lost worker, memory, storage hiccups) come back as retries."""
    return {
        queue: dramatiq.actor(
            function,
            actor_name=f"{name}_{queue.removeprefix('render-')}",
            queue_name=queue,
            priority=priority,
            time_limit=RENDER_TIME_LIMIT_MS,
            max_retries=RENDER_RETRIES,
            min_backoff=5_000,
        )
        for queue, priority in PRIORITY.items()
    }


def _render_job(job_id: str) -> None:
    work.render_job(job_id, retries_left=_retries_left(RENDER_RETRIES))


def _render_segment(job_id: str, index: int) -> None:
    work.render_segment(job_id, index, retries_left=_retries_left(RENDER_RETRIES))


def _stitch_job(job_id: str) -> None:
    work.stitch_job(job_id, retries_left=_retries_left(RENDER_RETRIES))


RENDER_JOB = _render_actors(_render_job, "render_job")
RENDER_SEGMENT = _render_actors(_render_segment, "render_segment")
STITCH_JOB = _render_actors(_stitch_job, "stitch_job")


@dramatiq.actor(
    queue_name="webhooks", max_retries=WEBHOOK_RETRIES, min_backoff=10_000, max_backoff=3_600_000, time_limit=60_000
)
def deliver_webhook(delivery_id: int) -> None:
    webhooks.deliver(delivery_id, final_attempt=not _retries_left(WEBHOOK_RETRIES))
