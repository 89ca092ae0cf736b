"""Every response names its request (`Request-Id: req_…`), and the id is on the request's span: what a client
logged leads support to the trace, and to any job the request submitted (the job's trace starts there)."""

import secrets

from opentelemetry import trace

HEADER = "Request-Id"
SPAN_ATTRIBUTE = "http.request_id"


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def request_ids(get_response):
    """Give the request an id, put it on the current span and on the response."""

    def middleware(request):
        request.request_id = new_request_id()
        trace.get_current_span().set_attribute(SPAN_ATTRIBUTE, request.request_id)
        response = get_response(request)
        response[HEADER] = request.request_id
        return response

    return middleware
