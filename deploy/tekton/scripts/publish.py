#!/usr/bin/env python3
"""Tekton step: upload the quality gate's report (report.html with its frame strips and plots, results.json,
report.json, the videos) to S3 under qualify/<PipelineRun uid>/, and write the report's URL as the Task result.

The credentials are files of a workspace bound to a Kubernetes Secret: access-key-id, secret-access-key, and
optionally endpoint-url (any S3-compatible store) and region. boto3 comes with the project image (django-storages).
Inputs come from the environment, which the Task's step maps from params and workspaces.
"""

import mimetypes
import os
import sys
from pathlib import Path

import boto3

# Browsers must show these, not download them; mimetypes' table differs between systems (wav, mp4 on old ones).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".mp4": "video/mp4",
    ".wav": "audio/wav",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
}
REQUIRED = ("report.html", "results.json")


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def secret(directory: Path, name: str, required: bool = True) -> str | None:
    path = directory / name
    if not path.is_file():
        if required:
            print(
                f"publish: the S3 credentials workspace has no {name} (bind it to a Secret with keys "
                f"access-key-id, secret-access-key and optionally endpoint-url, region)",
                file=sys.stderr,
            )
            raise SystemExit(2)
        return None
    return path.read_text().strip() or None


def main() -> int:
    report = Path(os.environ["REPORT_DIR"])
    credentials = Path(os.environ["S3_CREDENTIALS_DIR"])
    bucket = os.environ["BUCKET"]
    prefix = os.environ["PREFIX"].strip("/")
    missing = [name for name in REQUIRED if not (report / name).is_file()]
    if missing:
        print(f"publish: {report} has no {', '.join(missing)}: nothing to publish", file=sys.stderr)
        return 2
    client = boto3.client(
        "s3",
        aws_access_key_id=secret(credentials, "access-key-id"),
        aws_secret_access_key=secret(credentials, "secret-access-key"),
        endpoint_url=secret(credentials, "endpoint-url", required=False),
        region_name=secret(credentials, "region", required=False),
    )
    files = sorted(path for path in report.rglob("*") if path.is_file())
    for path in files:
        key = f"{prefix}/{path.relative_to(report).as_posix()}"
        client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type(path)})
    base = os.environ.get("REPORT_BASE_URL", "").rstrip("/")
    # Without a public base (a CDN or a bucket website), the path-style URL of the store itself.
    url = f"{base}/{prefix}/report.html" if base else f"{client.meta.endpoint_url}/{bucket}/{prefix}/report.html"
    Path(os.environ["RESULT_REPORT_URL"]).write_text(url)
    print(f"publish: {len(files)} files to s3://{bucket}/{prefix}/; report: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
