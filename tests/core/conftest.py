import pytest

from tests.metrics_helpers import TOKEN


@pytest.fixture
def scrape(client, db, settings):
    """What Prometheus gets from /metrics, with the token set."""
    settings.METRICS_TOKEN = TOKEN

    def read() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return read
