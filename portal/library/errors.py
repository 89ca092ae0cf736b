from portal.errors import Refusal


class UploadRejected(Refusal):
    """An upload we refuse; nothing of it is stored."""
