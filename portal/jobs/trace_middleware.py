"""Carries W3C trace context through Dramatiq messages (there is no official instrumentation).

Sending a message makes a PRODUCER span and writes its context into the message's options; processing it makes a
CONSUMER span that continues that trace. So a job's request, its render, a lecture's parts and their join are one
trace. A retry re-sent by Dramatiq continues the trace of the message it retries.
"""

import threading

from dramatiq import Middleware
from opentelemetry import context, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACE_OPTION = "trace_context"
tracer = trace.get_tracer("portal.jobs.dramatiq")


def _attributes(message) -> dict:
    return {
        "messaging.system": "dramatiq",
        "messaging.destination.name": message.queue_name,
        "messaging.message.id": message.message_id,
        "messaging.dramatiq.actor": message.actor_name,
        "messaging.dramatiq.retries": message.options.get("retries", 0),
    }


class TraceContext(Middleware):
    """PRODUCER spans around sends and CONSUMER spans around processing, linked through the message."""

    def __init__(self):
        self.state = threading.local()

    def _open(self) -> dict:
        if not hasattr(self.state, "spans"):
            self.state.spans = {}
        return self.state.spans

    def before_enqueue(self, broker, message, delay):
        """Start the PRODUCER span and write its context into the message."""
        self._end_failed_sends()
        parent = None
        if not trace.get_current_span().get_span_context().is_valid and TRACE_OPTION in message.options:
            parent = propagate.extract(message.options[TRACE_OPTION])  # a retry sent outside any span
        span = tracer.start_span(
            f"send {message.actor_name}", context=parent, kind=SpanKind.PRODUCER, attributes=_attributes(message)
        )
        if delay:
            span.set_attribute("messaging.dramatiq.delay_ms", delay)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span, parent))
        message.options[TRACE_OPTION] = carrier
        self._open()[("send", message.message_id)] = span

    def _end_failed_sends(self) -> None:
        # A send that raised (Redis unreachable) never reached after_enqueue; its span ends as an error.
        pending = self._open()
        for key in [key for key in pending if key[0] == "send"]:
            span = pending.pop(key)
            span.set_status(Status(StatusCode.ERROR, "the message was not enqueued"))
            span.end()

    def after_enqueue(self, broker, message, delay):
        """End the PRODUCER span once the broker has the message."""
        span = self._open().pop(("send", message.message_id), None)
        if span is not None:
            span.end()

    def before_process_message(self, broker, message):
        """Start the CONSUMER span as a child of the sender's, and make it current for the actor."""
        parent = propagate.extract(message.options.get(TRACE_OPTION) or {})
        span = tracer.start_span(
            f"process {message.actor_name}", context=parent, kind=SpanKind.CONSUMER, attributes=_attributes(message)
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        self._open()[("process", message.message_id)] = (span, token)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        """End the CONSUMER span, marking it failed when the actor raised."""
        self._close(message, exception)

    def after_skip_message(self, broker, message):
        """End the CONSUMER span of a message that was skipped (too old, or a middleware refused it)."""
        self._close(message, None, skipped=True)

    def _close(self, message, exception, skipped: bool = False) -> None:
        opened = self._open().pop(("process", message.message_id), None)
        if opened is None:
            return
        span, token = opened
        if skipped:
            span.set_attribute("messaging.dramatiq.skipped", True)
        if exception is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(token)
