"""Dramatiq actors. They carry ids only; portal.jobs.dispatch is the only module that sends them.

The work itself is imported when a message runs, not here: processes that only send messages (web, scheduler)
never load the render engine.
"""

import dramatiq

from renderer import BACKEND_NAMES

# Every attempt is counted in the database (portal/jobs/transitions.py); Dramatiq's own budget only has to be no
# smaller, so the database decides when a job has had enough.
RENDER_ATTEMPTS = 3
RENDER_TIME_LIMIT_MS = 30 * 60 * 1000
WEBHOOK_RETRIES = 8
TIERS = ("paid", "free")
# Within a worker, prefetched paid messages run before free ones (lower number first).
PRIORITY = {"paid": 0, "free": 10}


def render_queue(backend: str, tier: str) -> str:
    """Each backend has its own queues, so a worker takes only the work its machine can render."""
    return f"{backend}-{tier}"


RENDER_QUEUES = [render_queue(backend, tier) for backend in BACKEND_NAMES for tier in TIERS]


def _render_actors(function, name: str) -> dict[str, dramatiq.Actor]:
    """One actor per backend and tier. Bad inputs end the job without raising, so only transient failures (a lost
    worker, memory, storage hiccups) come back as retries."""
    return {
        render_queue(backend, tier): dramatiq.actor(
            function,
            actor_name=f"{name}_{backend}_{tier}",
            queue_name=render_queue(backend, tier),
            priority=PRIORITY[tier],
            time_limit=RENDER_TIME_LIMIT_MS,
            max_retries=RENDER_ATTEMPTS,
            min_backoff=5_000,
        )
        for backend in BACKEND_NAMES
        for tier in TIERS
    }


def _render_job(job_id: str) -> None:
    from portal.jobs import rendering

    rendering.render_job(job_id)


def _render_segment(job_id: str, index: int) -> None:
    from portal.jobs import rendering

    rendering.render_segment(job_id, index)


def _stitch_job(job_id: str) -> None:
    from portal.jobs import rendering

    rendering.join_parts(job_id)


RENDER_JOB = _render_actors(_render_job, "render_job")
RENDER_SEGMENT = _render_actors(_render_segment, "render_segment")
STITCH_JOB = _render_actors(_stitch_job, "stitch_job")


@dramatiq.actor(
    queue_name="webhooks", max_retries=WEBHOOK_RETRIES, min_backoff=10_000, max_backoff=3_600_000, time_limit=60_000
)
def deliver_webhook(delivery_id: int) -> None:
    from dramatiq.middleware import CurrentMessage

    from portal.jobs import webhooks

    message = CurrentMessage.get_current_message()
    final_attempt = message is not None and message.options.get("retries", 0) >= WEBHOOK_RETRIES
    webhooks.deliver(delivery_id, final_attempt=final_attempt)
