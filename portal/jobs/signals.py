"""What the jobs app announces to whoever listens (webhooks today), so job state code depends on none of them."""

from django.dispatch import Signal

# Sent once per job, after the transaction that ended it (succeeded, failed or canceled) has committed.
# Arguments: job_id.
job_finished = Signal()
