from portal.errors import Refusal


class JobRejected(Refusal):
    """A job request we refuse; nothing is reserved or queued."""
