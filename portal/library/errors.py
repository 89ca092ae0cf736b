class UploadRejected(Exception):
    """An upload we refuse: `code` is stable (clients may branch on it), `message` is for people."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}
