"""Developer machine: `make run`. Works with no environment at all."""

from .base import *  # noqa: F403
from .base import DATABASE_URL, VAR_DIR, database, env

# The embedded PostgreSQL, media and the embedded Redis keep their data here.
VAR_DIR.mkdir(exist_ok=True)

if not DATABASE_URL:
    from portal import embedded_postgres

    # Started by the first process that needs it (`make run`, any manage.py command), stopped by the last to exit.
    DATABASE_URL = embedded_postgres.attach(env.path("EMBEDDED_POSTGRES_DIR", default=VAR_DIR / "postgres"))
    DATABASES = {"default": database(DATABASE_URL)}

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-only-insecure-key-never-used-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Optional so the portal is usable without a mail server; the link is printed on the console anyway.
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
