import pytest

from tests.lti_helpers import TestPlatform


@pytest.fixture
def platform(db):
    """A registered test platform, its key set served on 127.0.0.1 for the test's length."""
    with TestPlatform() as running:
        running.register()
        yield running
