"""Production start-up: static files collected the way the Procfile's web process collects them, then the main pages
rendered under portal.settings.production with the manifest storage, so a missing `collectstatic` or manifest entry
fails here rather than in a deployment."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection

from tests.core.test_settings import PRODUCTION_ENV
from tests.factories import make_user
from tests.jobs_helpers import finished_job

ROOT = Path(__file__).resolve().parents[2]

RENDER_PAGES = """
import json, re, sys
import django
django.setup()
from django.test import Client
from portal.accounts.models import User

user, staff = User.objects.get(email=sys.argv[1]), User.objects.get(email=sys.argv[2])
client = Client(HTTP_HOST="portal.example.com")
seen = {}
for path, who in json.loads(sys.argv[3]):
    client.logout()
    if who:
        client.force_login(user if who == "user" else staff)
    response = client.get(path, secure=True)
    html = response.content.decode()
    assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"?#]+)', html)))
    seen[path] = {"status": response.status_code, "html": html[-600:] if response.status_code != 200 else "",
                  "assets": {asset: client.get(asset, secure=True).status_code for asset in assets}}
print(json.dumps(seen))
"""


def _procfile_collectstatic() -> list[str]:
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    first_step = shlex.split(web.removeprefix("web:").split("&&")[0])
    assert first_step[:3] == ["python", "manage.py", "prepare_static"], web
    return [sys.executable, *first_step[1:]]


@pytest.mark.slow
def test_main_pages_render_under_production_settings_with_collected_static_files(transactional_db, tmp_path):
    user = make_user("teacher@example.com")
    staff = make_user("support@example.com")
    staff.is_staff = True  # staff who cannot refund: no second factor needed to render the admin index
    staff.save()
    job = finished_job(user)
    test_database = urlsplit(settings.DATABASE_URL)._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    env = {
        **{key: value for key, value in os.environ.items() if key in ("PATH", "HOME", "LANG")},
        **PRODUCTION_ENV,
        "DATABASE_URL": test_database,
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "STATIC_ROOT": str(tmp_path / "static"),
    }

    collected = subprocess.run(_procfile_collectstatic(), cwd=ROOT, env=env, capture_output=True, text=True)
    assert collected.returncode == 0, collected.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()
    # The next start (or an image built with them, its file system read-only) finds them there and writes nothing.
    again = subprocess.run(_procfile_collectstatic(), cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "nothing to collect" in again.stdout

    pages = [
        ("/", None),
        ("/accounts/login/", None),
        ("/library/", "user"),
        ("/jobs/new/", "user"),
        (f"/jobs/{job.pk}/", "user"),
        ("/billing/", "user"),
        ("/admin/", "staff"),
    ]
    result = subprocess.run(
        [sys.executable, "-c", RENDER_PAGES, user.email, staff.email, json.dumps(pages)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout)
    for path, _ in pages:
        assert seen[path]["status"] == 200, (path, seen[path]["html"])
        assets = seen[path]["assets"]
        assert assets, f"{path} links no static files"
        # Hashed names from the manifest (css/portal.3f2a….css), each one served.
        assert all(status == 200 for status in assets.values()), (path, assets)
        assert all(re.search(r"\.[0-9a-f]{12}\.\w+$", asset) for asset in assets), assets
    assert any(asset.startswith("/static/css/portal.") for asset in seen["/library/"]["assets"])
    assert any(asset.startswith("/static/admin/") for asset in seen["/admin/"]["assets"])
