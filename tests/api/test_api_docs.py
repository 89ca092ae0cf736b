"""The OpenAPI schema and the interactive docs, served by the portal itself (no CDN)."""

import re

from django.contrib.staticfiles import finders
from rest_framework.test import APIClient


def test_the_schema_is_openapi_3_and_describes_every_endpoint(db):
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/v1/jobs/",
        "/api/v1/jobs/{job_id}/",
        "/api/v1/portraits/",
        "/api/v1/audio/",
        "/api/v1/usage/",
        "/api/v1/preflight/",
        "/api/v1/webhook/",
        "/api/v1/webhook/deliveries/",
        "/api/v1/voices/",
        "/api/v1/scripts/",
        "/api/v1/scripts/preflight/",
        "/api/v1/scripts/{script_id}/",
        "/api/v1/jobs/{job_id}/captions/",
        "/api/v1/jobs/{job_id}/captions/make/",
        "/api/v1/jobs/{job_id}/captions.{file_format}",
    } <= set(schema["paths"])
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key made under your account.",
    }
    create = schema["paths"]["/api/v1/jobs/"]["post"]
    assert {"201", "400", "401", "403", "429"} <= set(create["responses"])
    assert "Idempotency-Key" in [parameter["name"] for parameter in create["parameters"]]


def test_the_docs_load_their_scripts_from_our_own_static_files(db):
    page = APIClient().get("/api/v1/docs/")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    assert any("swagger-ui" in source for source in sources)
    for source in sources:
        if source.startswith("/api/v1/docs/?script"):  # the start-up script, served by the docs view (no inline script)
            assert APIClient().get(source)["Content-Type"].startswith("application/javascript")
            continue
        assert source.startswith("/static/"), source  # nothing from a CDN
        assert finders.find(source.removeprefix("/static/")), source
