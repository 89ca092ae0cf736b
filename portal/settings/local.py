"""Developer machine: `make run`. Works with no environment at all."""

from .base import *  # noqa: F403
from .base import VAR_DIR, env

# SQLite, media and the embedded Redis keep their data here.
VAR_DIR.mkdir(exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-only-insecure-key-never-used-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Optional so the portal is usable without a mail server; the link is printed on the console anyway.
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
