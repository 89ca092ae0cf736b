"""A course platform made in the test, as Moodle is to an LTI 1.3 tool: its own RSA key, its key set served over
HTTP on 127.0.0.1 (an ephemeral port, a thread), a registration in our database, and id_tokens signed with PyJWT
with the claims Moodle sends. Every URL it names is on that loopback server: nothing leaves the machine."""

import json
import re
import threading
import time
import uuid
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiTool

from portal.lti import keys

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}


class TestPlatform:
    """Start with `with TestPlatform() as platform:`; `register()` puts it in our tool config."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    client_id = "sonic-portal-tool"
    deployment_id = "1"
    kid = "platform-key-1"

    def __init__(self):
        self.key = rsa_key()
        self.key_set_requests = 0
        platform = self

        class KeySet(BaseHTTPRequestHandler):
            def do_GET(self):
                platform.key_set_requests += 1
                body = json.dumps({"keys": [public_jwk(platform.key, platform.kid)]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), KeySet)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = self.base  # Moodle's issuer is its own address
        self.return_url = f"{self.base}/mod/lti/contentitem_return.php"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def register(self, deployment_ids=("1",), **fields) -> LtiTool:
        """What support enters in admin from what the platform's administrator sent."""
        values = dict(
            title="Test Moodle",
            issuer=self.issuer,
            client_id=self.client_id,
            auth_login_url=f"{self.base}/mod/lti/auth.php",
            auth_token_url=f"{self.base}/mod/lti/token.php",
            key_set_url=f"{self.base}/mod/lti/certs.php",
            tool_key=keys.create_key(f"tool key {uuid.uuid4()}"),
            deployment_ids=json.dumps(list(deployment_ids)),
        )
        values.update(fields)
        return LtiTool.objects.create(**values)

    # --- The platform's side of a launch -----------------------------------------------------------------------
    def login(self, client: Client, secure: bool = False, **params) -> dict:
        """OIDC third-party initiated login; returns the authorisation request's parameters (state, nonce, ...)."""
        data = {
            "iss": self.issuer,
            "login_hint": "user-7",
            "target_link_uri": "http://127.0.0.1:8000/lti/launch/",
            "lti_message_hint": "message-hint",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
        } | params
        response = client.post(reverse("lti:login"), data, secure=secure)
        assert response.status_code == 302, response.content[:500]
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{self.base}/mod/lti/auth.php"
        return {name: values[0] for name, values in parse_qs(location.query).items()}

    def id_token(self, nonce: str, message_type: str, key=None, kid=None, **claims) -> str:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-7",
            "iat": now,
            "exp": now + 60,
            "nonce": nonce,
            LTI + "message_type": message_type,
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "http://127.0.0.1:8000/lti/launch/",
            LTI + "roles": [INSTRUCTOR if message_type == "LtiDeepLinkingRequest" else LEARNER],
            LTI + "context": {"id": "course-42", "label": "BIO101", "title": "Biology 101"},
            LTI + "tool_platform": {"guid": "moodle.test", "name": "Test Moodle", "product_family_code": "moodle"},
            LTI + "launch_presentation": {"locale": "en", "document_target": "iframe"},
        }
        if message_type == "LtiDeepLinkingRequest":
            body[DEEP_LINKING] = {
                "deep_link_return_url": self.return_url,
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "accept_multiple": False,
                "auto_create": False,
                "data": "platform-opaque-42",
            }
        else:
            body[LTI + "resource_link"] = {"id": "resource-link-1", "title": "This week's video"}
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})

    def launch(self, client: Client, message_type: str, secure: bool = False, **claims):
        """Login, then the signed launch, as the browser in the platform's frame does them."""
        login = self.login(client, secure=secure)
        token = self.id_token(login["nonce"], message_type, **claims)
        return client.post(reverse("lti:launch"), {"id_token": token, "state": login["state"]}, secure=secure)

    def deep_linking_answer(self, answer_page: str, tool_jwks: dict) -> dict:
        """What the platform checks of the tool's answer: our signature (with our JWKS), audience, issuer."""
        action = unescape(re.search(r'<form id="deep-link-answer" method="post" action="([^"]+)"', answer_page)[1])
        assert action == self.return_url
        answer = re.search(r'name="JWT" value="([^"]+)"', answer_page)[1]
        kid = jwt.get_unverified_header(answer)["kid"]
        key = jwt.PyJWKSet.from_dict(tool_jwks)[kid]
        return jwt.decode(answer, key.key, algorithms=["RS256"], audience=self.issuer, issuer=self.client_id)


def frame_client() -> Client:
    """The browser inside the platform's frame: none of the portal's session, and CSRF checks on, as in a browser."""
    return Client(enforce_csrf_checks=True)


def page_code(response) -> str | None:
    found = re.search(r'data-code="([^"]+)"', response.content.decode())
    return found[1] if found else None
