"""Render stages as OpenTelemetry spans, and as a timeline the caller keeps (the portal stores it per job).

Only the OpenTelemetry API is used here: on its own the renderer's spans cost next to nothing and go nowhere; the
portal installs the SDK and exporter (portal/tracing.py). Attributes describe the work (backend, resolution,
frames, content hashes), never paths, file names or people.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from opentelemetry import trace

tracer = trace.get_tracer("renderer")

AttributeValue = str | int | float | bool


@dataclass
class StageRecord:
    """One stage as support sees it: when it started, how long it took, its key attributes, how it ended."""

    name: str
    started_at: datetime
    seconds: float
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    error_code: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 4),
            "attributes": self.attributes,
            "error_code": self.error_code,
        }


@dataclass
class _Timeline:
    records: list[StageRecord]
    common: dict[str, AttributeValue]


_current: ContextVar[_Timeline | None] = ContextVar("render_timeline", default=None)


class Stage:
    """The running stage: attributes set here go on both its span and its timeline record."""

    def __init__(self, span: trace.Span, attributes: dict[str, AttributeValue]):
        self.span, self.attributes = span, attributes

    def set(self, **attributes: AttributeValue | None) -> None:
        for key, value in _dotted(attributes).items():
            self.attributes[key] = value
            self.span.set_attribute(key, value)

    def event(self, name: str, **attributes: AttributeValue | None) -> None:
        self.span.add_event(name, _dotted(attributes))


def _dotted(attributes: dict[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    """Keyword arguments use "__" where attribute names have dots (audio__duration_s -> audio.duration_s)."""
    return {key.replace("__", "."): value for key, value in attributes.items() if value is not None}


@contextmanager
def timeline(**common: AttributeValue | None) -> Iterator[list[StageRecord]]:
    """Collect the stages run inside; `common` attributes go on every stage's span.

    Nested inside another timeline (a worker's), stages land in the outer list too, so one list tells the whole
    story of a job; the inner caller slices off its own."""
    outer = _current.get()
    records = outer.records if outer else []
    token = _current.set(_Timeline(records, {**(outer.common if outer else {}), **_dotted(common)}))
    try:
        yield records
    finally:
        _current.reset(token)


@contextmanager
def stage(name: str, **attributes: AttributeValue | None) -> Iterator[Stage]:
    """Time a stage and trace it; an exception marks the span as an error and the record with the error code."""
    current = _current.get() or _Timeline([], {})
    started_at, clock = datetime.now(UTC), time.perf_counter()
    own = _dotted(attributes)
    with tracer.start_as_current_span(name, attributes={**current.common, **own}) as span:
        running = Stage(span, own)
        error_code = ""
        try:
            yield running
        except BaseException as error:
            error_code = getattr(error, "code", "") or type(error).__name__
            span.set_attribute("error.type", error_code)
            raise
        finally:
            current.records.append(
                StageRecord(name, started_at, time.perf_counter() - clock, running.attributes, error_code)
            )


def file_sha256(path: str | Path) -> str:
    """Identifies an input in a trace without naming it."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
