"""The outbound Stripe seam for tests: a local HTTP server that records every request billing/stripe_api.py sends and
answers like Stripe's API for the few endpoints we use, plus signed webhook events."""

import hashlib
import hmac
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from billing.plans import get_plan

WEBHOOK_SECRET = "whsec_test_secret"
DAY = 24 * 3600


class Recorded:
    def __init__(self, method, path, params, headers):
        self.method, self.path, self.params, self.headers = method, path, params, headers

    def __repr__(self):
        return f"{self.method} {self.path} {self.params}"


class FakeStripe:
    """Serves objects put in `objects` (by path) and makes customers, sessions, products and prices on POST."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.objects: dict[str, dict] = {}
        self.fail_with: int | None = None  # answer every request with this HTTP status
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, method):
                parts = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                params = dict(parse_qsl(parts.query if method in ("GET", "DELETE") else body, keep_blank_values=True))
                with fake._lock:
                    fake.requests.append(Recorded(method, parts.path, params, dict(self.headers)))
                    status, payload = fake.respond(method, parts.path, params)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def do_DELETE(self):
                self._answer("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- what Stripe would answer --------------------------------------------------------------------------------
    def _new_id(self, prefix):
        return f"{prefix}_test{next(self._ids)}"

    @staticmethod
    def _missing(path):
        return 404, {
            "error": {"type": "invalid_request_error", "code": "resource_missing", "message": f"No such object: {path}"}
        }

    def respond(self, method, path, params):
        if self.fail_with:
            return self.fail_with, {"error": {"type": "api_error", "message": "Stripe is having a bad day"}}
        if method == "GET" and path == "/v1/prices":
            key = params.get("lookup_keys[0]")
            found = [p for p in self.objects.values() if p.get("object") == "price" and p.get("lookup_key") == key]
            return 200, {"object": "list", "data": found[:1], "has_more": False, "url": "/v1/prices"}
        if method == "GET":
            return (200, self.objects[path]) if path in self.objects else self._missing(path)
        if method == "POST" and path == "/v1/customers":
            customer = {"id": self._new_id("cus"), "object": "customer", "email": params.get("email")}
            self.objects[f"/v1/customers/{customer['id']}"] = customer
            return 200, customer
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = self._new_id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "status": "open",
                "url": f"https://checkout.test/{session_id}",
            }
            self.objects[f"/v1/checkout/sessions/{session_id}"] = session
            return 200, session
        if method == "POST" and path.startswith("/v1/checkout/sessions/") and path.endswith("/expire"):
            session = self.objects.get(path.removesuffix("/expire"))
            if session is None or session["status"] != "open":
                return 400, {"error": {"type": "invalid_request_error", "message": "Only open sessions expire."}}
            session["status"] = "expired"
            return 200, session
        if method == "POST" and path == "/v1/billing_portal/sessions":
            session_id = self._new_id("bps")
            return 200, {
                "id": session_id,
                "object": "billing_portal.session",
                "url": f"https://portal.test/{session_id}",
            }
        if method == "POST" and path == "/v1/products":
            product = {
                "id": params["id"],
                "object": "product",
                "name": params["name"],
                "active": True,
                "description": params.get("description"),
            }
            self.objects[f"/v1/products/{product['id']}"] = product
            return 200, product
        if method == "POST" and path.startswith("/v1/products/"):
            product = self.objects.get(path)
            if product is None:
                return self._missing(path)
            product.update(name=params["name"], description=params.get("description"), active=True)
            return 200, product
        if method == "POST" and path == "/v1/prices":
            if params.get("transfer_lookup_key") == "true":
                for other in self.objects.values():
                    if other.get("object") == "price" and other.get("lookup_key") == params["lookup_key"]:
                        other["lookup_key"] = None
            price = {
                "id": self._new_id("price"),
                "object": "price",
                "product": params["product"],
                "active": True,
                "unit_amount": int(params["unit_amount"]),
                "currency": params["currency"],
                "recurring": {"interval": params["recurring[interval]"]},
                "lookup_key": params["lookup_key"],
            }
            self.objects[f"/v1/prices/{price['id']}"] = price
            return 200, price
        if method == "POST" and path.startswith("/v1/prices/"):
            price = self.objects.get(path)
            if price is None:
                return self._missing(path)
            price["active"] = params.get("active") != "false"
            return 200, price
        return self._missing(path)

    # --- helpers for tests ---------------------------------------------------------------------------------------
    def pay(self, session_id: str) -> None:
        """The customer completes a Checkout Session (Stripe then creates the subscription)."""
        session = self.objects[f"/v1/checkout/sessions/{session_id}"]
        if session["status"] != "open":
            raise ValueError(f"{session_id} is {session['status']}: Stripe refuses the payment")
        session["status"], session["subscription"] = "complete", self._new_id("sub")

    def made(self, method, path):
        return [r for r in self.requests if r.method == method and r.path == path]

    def put_subscription(self, subscription: dict) -> dict:
        self.objects[f"/v1/subscriptions/{subscription['id']}"] = subscription
        return subscription


def subscription(
    sub_id="sub_1",
    *,
    customer="cus_1",
    status="active",
    plan="pro",
    start=None,
    days=30,
    cancel_at_period_end=False,
    metadata=None,
) -> dict:
    """A subscription as Stripe's current API shows it: the period on the item, the price with its lookup key."""
    start = int(start if start is not None else time.time() - DAY)
    end = start + days * DAY
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "metadata": metadata or {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "current_period_start": start,
                    "current_period_end": end,
                    "price": {"id": f"price_{plan}", "object": "price", "lookup_key": get_plan(plan).lookup_key},
                }
            ],
        },
    }


_event_ids = itertools.count(1)


def event(event_type: str, obj: dict, *, event_id=None, created=None) -> dict:
    return {
        "id": event_id or f"evt_test{next(_event_ids)}",
        "object": "event",
        "type": event_type,
        "created": int(created or time.time()),
        "api_version": "2025-03-31.basil",
        "livemode": False,
        "data": {"object": obj},
    }


def sign(body: bytes, *, secret=WEBHOOK_SECRET, timestamp=None) -> str:
    timestamp = int(timestamp if timestamp is not None else time.time())
    signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={signature}"


def post_event(client, evt: dict, *, signature=None, body=None, timestamp=None):
    body = body if body is not None else json.dumps(evt).encode()
    header = signature if signature is not None else sign(body, timestamp=timestamp)
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    return client.post("/billing/stripe/webhook/", data=body, content_type="application/json", **extra)
