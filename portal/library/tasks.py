"""Dramatiq actors of the library. They carry ids only; portal.library.receiving sends them."""

import dramatiq

CHECK_QUEUE = "uploads"
CHECK_RETRIES = 2
# Decoding a 3-hour lecture whole takes about a minute; a file that takes far longer is not one we want.
CHECK_TIME_LIMIT_MS = 10 * 60 * 1000


@dramatiq.actor(queue_name=CHECK_QUEUE, max_retries=CHECK_RETRIES, min_backoff=5_000, time_limit=CHECK_TIME_LIMIT_MS)
def check_upload(upload_id: str) -> None:
    from django.utils.translation import gettext_noop
    from dramatiq.middleware import CurrentMessage

    from portal.library import probing, receiving

    try:
        probing.check(upload_id)
    except BaseException:  # TimeLimitExceeded too (it is not an Exception)
        message = CurrentMessage.get_current_message()
        if message is not None and message.options.get("retries", 0) >= CHECK_RETRIES:
            # Nothing more will try: tell the owner rather than leave it "checking" until the maintenance loop does.
            receiving.refuse(upload_id, "check_failed", gettext_noop("The file could not be checked; upload it again."))
        raise
