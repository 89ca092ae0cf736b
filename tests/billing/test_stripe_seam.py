import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_only_billing_stripe_api_imports_stripe():
    importers = []
    for folder in ["billing", "portal", "renderer"]:
        for path in (ROOT / folder).rglob("*.py"):
            if re.search(r"^\s*(import stripe\b|from stripe\b)", path.read_text(), re.MULTILINE):
                importers.append(str(path.relative_to(ROOT)))
    assert importers == ["billing/stripe_api.py"]
