#!/usr/bin/env python3
"""Tekton step: record a checkpoint that passed the quality gate in the portal's checkpoint registry.

POST {PORTAL_URL}/api/v1/checkpoints/ with `Authorization: Bearer <api-key>` (the API key of a staff account that may
promote checkpoints, the file api-key of a workspace bound to a Kubernetes Secret) and the gate's figures as JSON.
201: recorded; 200: the same checkpoint was already recorded; anything else fails the step with the portal's
{"error": {"code", "message"}} printed. Python's standard library only. Inputs come from the environment, which the
Task's step maps from params and workspaces.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
TIMEOUT_SECONDS = 30


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET (or resend the key elsewhere): refuse it and say where it went."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirected to {newurl}", headers, fp)


def number(name: str, kind=float):
    text = os.environ.get(name, "").strip()
    if text == "":
        return None
    try:
        value = kind(text)
    except ValueError:
        print(f"promote: {name}={text!r} is not a number", file=sys.stderr)
        raise SystemExit(2) from None
    return None if value != value else value  # nan: not measured, null in JSON


def body() -> dict:
    return {
        "backend": os.environ["BACKEND"],
        "version": os.environ["VERSION"],
        "digest": os.environ["DIGEST"],
        "figures": {
            "duration_error_ms": number("DURATION_ERROR_MS"),
            "offset_frames": number("OFFSET_FRAMES"),
            "sync_correlation": number("SYNC_CORRELATION"),
            "cases_passed": number("CASES_PASSED", int),
            "cases_total": number("CASES_TOTAL", int),
        },
        "report_url": os.environ.get("REPORT_URL", ""),
        "pipeline_run": os.environ.get("PIPELINE_RUN", ""),
    }


def refusal(status: int, raw: bytes) -> str:
    try:
        error = json.loads(raw)["error"]
        return f"HTTP {status} {error.get('code', '')}: {error.get('message', '')}".replace("  ", " ")
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}: {raw[:500].decode('utf-8', 'replace') or 'no body'}"


def main() -> int:
    portal = os.environ["PORTAL_URL"].rstrip("/")
    parsed = urllib.parse.urlsplit(portal)
    if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOOPBACK):
        print(f"promote: {portal} is not https: the API key is only sent over TLS", file=sys.stderr)
        return 2
    key_file = Path(os.environ["PORTAL_CREDENTIALS_DIR"]) / "api-key"
    if not key_file.is_file() or not key_file.read_text().strip():
        print(
            f"promote: no API key at {key_file} (bind the workspace to a Secret with the key api-key)", file=sys.stderr
        )
        return 2
    payload = body()
    request = urllib.request.Request(
        f"{portal}/api/v1/checkpoints/",
        data=json.dumps(payload).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {key_file.read_text().strip()}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "sonic-portal-qualify-pipeline",
        },
    )
    opener = urllib.request.build_opener(NoRedirects)
    what = f"{payload['backend']} {payload['version']} {payload['digest']}"
    try:
        with opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        if 300 <= error.code < 400:
            print(
                f"promote: {portal} answered HTTP {error.code}, redirected to {error.headers.get('Location')}: "
                f"no redirect is followed (the key stays with the URL given); set portal-url to the portal's own "
                f"https URL",
                file=sys.stderr,
            )
        else:
            print(f"promote: the portal refused {what}: {refusal(error.code, error.read())}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"promote: could not reach {portal}: {getattr(error, 'reason', error)}", file=sys.stderr)
        return 1
    outcome = {201: "created", 200: "already-recorded"}.get(status)
    if outcome is None:
        print(f"promote: unexpected HTTP {status} from {portal}", file=sys.stderr)
        return 1
    Path(os.environ["RESULT_OUTCOME"]).write_text(outcome)
    print(f"promote: {what} {'promoted' if status == 201 else 'was already promoted'} ({portal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
