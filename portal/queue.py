"""The queue, at the bottom of the portal: queue names, priorities, limits, and sending a message by actor name.

Every Dramatiq queue the portal uses is named here with what its messages may take (time limit, retries), so the
code that sends (jobs, uploads, webhooks), the worker command, the metrics and the cluster manifests' checks all
read one list. Messages are sent by actor name: a sender never imports worker code, so web and scheduler processes
never load the render engine, and each actor is declared beside its work (ACTOR_MODULES). Actor and queue names
are stored in Redis with every waiting message: renaming one strands the messages already queued under the old name.
"""

import importlib
from typing import Any

import dramatiq
from dramatiq import Message
from dramatiq.errors import DramatiqError
from dramatiq.middleware import CurrentMessage
from redis.exceptions import RedisError

from renderer import BACKEND_NAMES

# A send that raises one of these did not reach the broker; the row it was for stays queued and the maintenance
# loop sends it again.
BROKER_ERRORS = (RedisError, DramatiqError, OSError)

TIERS = ("paid", "free")
# Within a worker, prefetched paid messages run before free ones (lower number first).
PRIORITY = {"paid": 0, "free": 10}
# Every render attempt is counted in the database (portal/jobs/transitions.py); Dramatiq's own budget only has to be
# no smaller, so the database decides when a job has had enough.
RENDER_ATTEMPTS = 3
RENDER_TIME_LIMIT_MS = 30 * 60 * 1000
RENDER_MIN_BACKOFF_MS = 5_000
# What a render queue's actors do, by the stem of their names: render_job_builtin_paid, ...
RENDER_JOB, RENDER_PART, JOIN_PARTS = "render_job", "render_segment", "stitch_job"

WEBHOOK_QUEUE = "webhooks"
DELIVER_WEBHOOK = "deliver_webhook"
WEBHOOK_RETRIES = 8
WEBHOOK_TIME_LIMIT_MS = 60_000
# Retries spread from 10 s to an hour apart: a receiver that is down for a while still gets the event.
WEBHOOK_MIN_BACKOFF_MS, WEBHOOK_MAX_BACKOFF_MS = 10_000, 3_600_000

UPLOAD_CHECK_QUEUE = "uploads"
CHECK_UPLOAD = "check_upload"
UPLOAD_CHECK_RETRIES = 2
UPLOAD_CHECK_MIN_BACKOFF_MS = 5_000
# Decoding a 3-hour lecture whole takes about a minute; a file that takes far longer is not one we want.
UPLOAD_CHECK_TIME_LIMIT_MS = 10 * 60 * 1000

# Speaking a script runs on the same workers as upload checks (CPU). The longest script (60,000 characters, about
# 70 minutes of speech) takes about 4 minutes to say here.
SPEAK_SCRIPT = "speak_script"
SPEAK_SCRIPT_RETRIES = 2
SPEAK_SCRIPT_TIME_LIMIT_MS = 20 * 60 * 1000

# Captions from a video's speech run there too. Recognition hears speech about 5 times faster than it plays here,
# so the longest lecture fits the limit.
MAKE_CAPTIONS = "make_captions"
MAKE_CAPTIONS_RETRIES = 1
MAKE_CAPTIONS_TIME_LIMIT_MS = 30 * 60 * 1000
# Burning captions in re-encodes the video: about a third of its length at 1080 px here, so a 3-hour lecture fits.
BURN_IN_CAPTIONS = "burn_in_captions"
BURN_IN_RETRIES = 1
BURN_IN_TIME_LIMIT_MS = 90 * 60 * 1000

# The modules that declare the actors; a worker imports them (settings.DRAMATIQ_AUTODISCOVER_MODULES finds them).
ACTOR_MODULES = (
    "portal.jobs.rendering",
    "portal.jobs.webhooks",
    "portal.library.upload.check",
    "portal.library.scripts",
    "portal.jobs.captions",
)


def render_queue(backend: str, tier: str) -> str:
    """Each backend has its own queues, so a worker takes only the work its machine can render."""
    return f"{backend}-{tier}"


RENDER_QUEUES = [render_queue(backend, tier) for backend in BACKEND_NAMES for tier in TIERS]


def render_actor_name(stem: str, backend: str, tier: str) -> str:
    return f"{stem}_{backend}_{tier}"


def render_actor_for_queue(stem: str, queue_name: str) -> str:
    backend, tier = queue_name.rsplit("-", 1)
    return render_actor_name(stem, backend, tier)


def queue_names() -> list[str]:
    """Every queue a worker takes from (render queues of every backend and tier, webhooks, upload checks)."""
    return [*RENDER_QUEUES, WEBHOOK_QUEUE, UPLOAD_CHECK_QUEUE]


def last_delivery(max_retries: int) -> bool:
    """Whether the message an actor is running now is its last try (Dramatiq will not deliver it again)."""
    message = CurrentMessage.get_current_message()
    return message is not None and message.options.get("retries", 0) >= max_retries


def send(actor_name: str, queue_name: str, *args) -> Message[Any]:
    """Put a message for `actor_name` on `queue_name`, through the broker's middleware as actor.send would.
    Raises one of BROKER_ERRORS when the broker does not take it."""
    message: Message[Any] = Message(queue_name=queue_name, actor_name=actor_name, args=args, kwargs={}, options={})
    return dramatiq.get_broker().enqueue(message)


def declare_actors() -> None:
    """Declare every actor on the broker, as a worker process does when it starts (for a worker run in-process)."""
    for module in ACTOR_MODULES:
        importlib.import_module(module)
