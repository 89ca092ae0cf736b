class Refusal(Exception):
    """A request we refuse: `code` is stable (clients branch on it), `message` is for people, `status` is HTTP's."""

    default_status = 400

    def __init__(self, code: str, message: str, status: int | None = None, *, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field
        self.status = status or self.default_status

    def as_dict(self) -> dict:
        payload = {"code": self.code, "message": self.message}
        if self.field:
            payload["field"] = self.field
        return payload
