"""Reading the portal's /metrics exposition in tests."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-test-token-7f3a9c"


def series(body: str, name: str) -> dict[frozenset, float]:
    """Every sample called `name` in an exposition, keyed by its labels."""
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name
    }


def labels(**pairs) -> frozenset:
    return frozenset(pairs.items())
