from django.test import Client
from opentelemetry.trace import SpanKind

from portal import tracing


def test_the_500_page_gives_the_support_code_of_the_failed_requests_trace(db, settings, finished_spans):
    settings.ROOT_URLCONF = "tests.boom_urls"
    response = Client(raise_request_exception=False).get("/fails/")
    assert response.status_code == 500
    (request,) = [span for span in finished_spans() if span.kind == SpanKind.SERVER]
    code = tracing.support_code(format(request.context.trace_id, "032x"))
    page = response.content.decode()
    assert "Something went wrong on our side" in page and f'<strong class="support-code">{code}</strong>' in page
    assert [event.name for event in request.events] == ["exception"]


def test_an_api_500_is_in_the_api_error_shape_with_the_support_code(db, settings, finished_spans):
    settings.ROOT_URLCONF = "tests.boom_urls"
    response = Client(raise_request_exception=False).get("/api/v1/fails/")
    assert response.status_code == 500
    (request,) = [span for span in finished_spans() if span.kind == SpanKind.SERVER]
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["support_code"] == tracing.support_code(format(request.context.trace_id, "032x"))
    assert error["support_code"] in error["message"] and error["request_id"] == response["Request-Id"]
