"""Settings come from the environment; production refuses to start without secrets and passes check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import embedded_postgres

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "portal.settings.production",
    "SECRET_KEY": "k3!x9Qz#Lr7v@2Wm$Tp8^Yh5&Nc1*Bf6(Dg4)Js0-Ke3+Ua7=Vb9_Xo2~Iq8",
    "ALLOWED_HOSTS": "portal.example.com",
    "SITE_URL": "https://portal.example.com",
    "DATABASE_URL": "postgres://portal:secret@db.internal:5432/portal",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def manage(*args, env):
    base = {key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True
    )


@pytest.mark.slow
def test_production_passes_check_deploy_without_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "ALLOWED_HOSTS"}
    assert "ALLOWED_HOSTS" in manage("check", env=env).stderr


@pytest.mark.slow
def test_management_commands_honour_the_environment(tmp_path):
    probe = (
        "from django.conf import settings as s; from django.core.files.storage import default_storage as d;"
        "print(s.DATABASES['default']['NAME'], s.REDIS_URL, s.SITE_URL, d.location, s.DEBUG, s.EMAIL_BACKEND)"
    )
    env = {
        "DATABASE_URL": "postgres://someone:secret@db.internal:5433/elsewhere",
        "REDIS_URL": "redis://cache.internal:6380/3",
        "SITE_URL": "https://studio.example.org/",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEBUG": "false",
        "EMAIL_URL": "smtp://mail.internal:25",
    }
    result = manage("shell", "--no-imports", "-c", probe, env=env)
    assert result.stdout.split() == [
        "elsewhere",
        "redis://cache.internal:6380/3",
        "https://studio.example.org",
        str(tmp_path / "media"),
        "False",
        "django.core.mail.backends.smtp.EmailBackend",
    ], result.stderr


def test_sqlite_is_refused_with_a_clear_message(tmp_path):
    result = manage("check", env={"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"})
    assert result.returncode != 0
    assert "DATABASE_URL must name a PostgreSQL database" in result.stderr


def test_production_refuses_to_start_without_database_url():
    env = {key: value for key, value in PRODUCTION_ENV.items() if key != "DATABASE_URL"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "Set the DATABASE_URL environment variable" in result.stderr


@pytest.mark.slow
def test_local_defaults_need_no_environment(tmp_path):
    """With nothing set, the local settings start the embedded PostgreSQL (here in a temporary folder, instead of
    var/postgres) and the command stops it when it ends."""
    probe = (
        "from django.conf import settings as s; from django.db import connection as c; c.ensure_connection();"
        "print(s.DATABASES['default']['NAME'], s.DATABASES['default']['OPTIONS']['host'], c.pg_version // 10000,"
        "s.REDIS_URL, s.MEDIA_ROOT, s.EMAIL_BACKEND, s.ACCOUNT_EMAIL_VERIFICATION)"
    )
    result = manage("shell", "--no-imports", "-c", probe, env={"EMBEDDED_POSTGRES_DIR": str(tmp_path / "pg")})
    assert result.stdout.split() == [
        "portal",
        str(tmp_path / "pg" / "data"),
        "18",
        "redis://127.0.0.1:6379/0",
        str(ROOT / "var" / "media"),
        "django.core.mail.backends.console.EmailBackend",
        "optional",
    ], result.stderr
    assert embedded_postgres.pid_of(tmp_path / "pg") is None
