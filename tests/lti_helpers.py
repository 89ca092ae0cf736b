"""A course platform made in the test, as Moodle is to an LTI 1.3 tool: its own RSA key, its key set served over
HTTP on 127.0.0.1 (an ephemeral port, a thread), a registration in our database, and id_tokens signed with PyJWT
with the claims Moodle sends. Every URL it names is on that loopback server: nothing leaves the machine.

Its server is also a small course site a real browser can use (`TestPlatform(tool_url=live_server.url)`, see
CourseSite): a course page whose buttons start the tool's OIDC login in a frame, the authorisation endpoint that
answers it with a signed launch, and the deep-linking return that checks the tool's answer with the tool's key set
and lists the chosen video on the course page."""

import json
import re
import threading
import time
import urllib.request
import uuid
from html import escape, unescape
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
LOOPBACK = ("127.0.0.1", "::1")


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

    def __init__(self, tool_url: str | None = None, locale: str = "en"):
        """`tool_url`: the tool's base URL (the live server's), for the course site; `locale`: the language the course
        site's launches name (launch_presentation.locale)."""
        self.key = rsa_key()
        self.key_set_requests = 0
        self.tool_url = loopback_url(tool_url) if tool_url else None
        self.locale = locale
        self.activities: list[dict] = []  # what the tool's deep-linking answers added to the course, in order
        self.problems: list[str] = []  # every request the course site refused, and why
        self._lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path, query = _split(self.path)
                if path == "/mod/lti/certs.php":
                    with platform._lock:
                        platform.key_set_requests += 1
                    body = json.dumps({"keys": [public_jwk(platform.key, platform.kid)]}).encode()
                    self._answer(200, body, "application/json")
                else:
                    self._answer(*CourseSite(platform).get(path, query))

            def do_POST(self):
                path, _ = _split(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
                self._answer(*CourseSite(platform).post(path, {name: values[0] for name, values in form.items()}))

            def _answer(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8"):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = self.base  # Moodle's issuer is its own address
        self.return_url = f"{self.base}/mod/lti/contentitem_return.php"
        self.course_url = f"{self.base}/course/view.php"

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
        return self.verified_answer(answer, tool_jwks)

    def verified_answer(self, answer: str, tool_jwks: dict) -> dict:
        kid = jwt.get_unverified_header(answer)["kid"]
        key = jwt.PyJWKSet.from_dict(tool_jwks)[kid]
        return jwt.decode(answer, key.key, algorithms=["RS256"], audience=self.issuer, issuer=self.client_id)


def loopback_url(url: str) -> str:
    """A URL on this machine's loopback interface, else ValueError: the test platform talks to nothing else."""
    if urlsplit(url).hostname not in LOOPBACK:
        raise ValueError(f"not a loopback URL: {url}")
    return url.rstrip("/")


def _split(target: str) -> tuple[str, dict]:
    parts = urlsplit(target)
    return parts.path, {name: values[0] for name, values in parse_qs(parts.query).items()}


# Who the course site's launches are for: it has no accounts of its own; the teacher adds, the student watches.
TEACHER_HINT = "teacher-7"
STUDENT_HINT = "student-8"
DEEP_LINK_HINT = "deep-link"
# No proxy for the tool's key set, whatever the environment says: it is on loopback.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class CourseSite:
    """The course site's pages, as Moodle's are to a teacher and a student (plain HTML, no accounts): one per
    request, on the platform's state. Answers are (status, body)."""

    FRAME = "lti-frame"

    def __init__(self, platform: TestPlatform):
        self.platform = platform

    def get(self, path: str, query: dict) -> tuple[int, bytes]:
        if path == "/course/view.php":
            return 200, self.course_page()
        if path == "/mod/lti/auth.php":
            return self.authorise(query)
        return self.refuse(404, f"no page at {path}")

    def post(self, path: str, form: dict) -> tuple[int, bytes]:
        if path == "/mod/lti/auth.php":  # OIDC allows the authorisation request as a form post too
            return self.authorise(form)
        if path == "/mod/lti/contentitem_return.php":
            return self.content_returned(form)
        return self.refuse(404, f"nothing takes a post at {path}")

    def refuse(self, status: int, problem: str) -> tuple[int, bytes]:
        with self.platform._lock:
            self.platform.problems.append(problem)
        return status, page("Error", f'<p class="problem">{escape(problem)}</p>')

    # --- The course page ------------------------------------------------------------------------------------
    def course_page(self) -> bytes:
        platform = self.platform
        if platform.tool_url is None:
            return page("Biology 101", '<p class="problem">No tool URL: TestPlatform(tool_url=...)</p>')
        with platform._lock:
            activities = list(enumerate(platform.activities))
        items = "".join(
            f'<li class="activity"><span class="icon" aria-hidden="true">▶</span>'
            f'<span class="name">{escape(item["title"])}</span>'
            f"{self.login_form('Watch', f'resource:{number}', STUDENT_HINT, item['url'])}</li>"
            for number, item in activities
        )
        listed = f'<ul class="activities">{items}</ul>' if items else '<p class="none">No activities yet.</p>'
        adding = self.login_form(
            "Add an activity: Sonic Portal video", DEEP_LINK_HINT, TEACHER_HINT, f"{platform.tool_url}/lti/launch/"
        )
        return page(
            "Biology 101",
            f"""<nav class="crumbs">Home / My courses / BIO101</nav>
<h1>Biology 101</h1>
<section class="topic"><h2>General</h2>{listed}<div class="add">{adding}</div></section>
<iframe name="{self.FRAME}" id="{self.FRAME}" title="Sonic Portal" hidden></iframe>""",
        )

    def login_form(self, label: str, message_hint: str, login_hint: str, target_link_uri: str) -> str:
        """OIDC third-party initiated login, in the course page's frame (as Moodle's launch container "embed")."""
        fields = {
            "iss": self.platform.issuer,
            "login_hint": login_hint,
            "target_link_uri": target_link_uri,
            "lti_message_hint": message_hint,
            "client_id": self.platform.client_id,
            "lti_deployment_id": self.platform.deployment_id,
        }
        hidden = "".join(f'<input type="hidden" name="{name}" value="{escape(v)}">' for name, v in fields.items())
        return (
            f'<form method="post" action="{escape(self.platform.tool_url)}/lti/login/" target="{self.FRAME}" '
            f"onsubmit=\"document.getElementById('{self.FRAME}').hidden = false\">{hidden}"
            f"<button>{escape(label)}</button></form>"
        )

    # --- The authorisation endpoint: the signed launch ------------------------------------------------------
    def authorise(self, request: dict) -> tuple[int, bytes]:
        platform = self.platform
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "client_id": platform.client_id,
            "redirect_uri": f"{platform.tool_url}/lti/launch/",
        }
        for name, value in expected.items():
            if request.get(name) != value:
                return self.refuse(400, f"authorisation request: {name} is {request.get(name)!r}, not {value!r}")
        if not request.get("nonce") or not request.get("state"):
            return self.refuse(400, "authorisation request without nonce or state")
        hint = request.get("lti_message_hint", "")
        presentation = {"locale": platform.locale, "document_target": "iframe", "return_url": platform.course_url}
        claims = {LTI + "launch_presentation": presentation}
        if hint == DEEP_LINK_HINT and request.get("login_hint") == TEACHER_HINT:
            message_type = "LtiDeepLinkingRequest"
            claims |= {"sub": TEACHER_HINT, LTI + "target_link_uri": f"{platform.tool_url}/lti/launch/"}
        elif (resource := re.fullmatch(r"resource:(\d+)", hint)) and request.get("login_hint") == STUDENT_HINT:
            with platform._lock:
                found = dict(enumerate(platform.activities)).get(int(resource[1]))
            if found is None:
                return self.refuse(400, f"no activity {hint}")
            message_type = "LtiResourceLinkRequest"
            claims |= {
                "sub": STUDENT_HINT,
                LTI + "target_link_uri": found["url"],
                LTI + "resource_link": {"id": f"resource-link-{resource[1]}", "title": found["title"]},
                LTI + "custom": found["custom"],
            }
        else:
            return self.refuse(400, f"login hints {request.get('login_hint')!r}, {hint!r}")
        token = platform.id_token(request["nonce"], message_type, **claims)
        return 200, page(
            "Launching…",
            f"""<form id="launch" method="post" action="{escape(expected["redirect_uri"])}">
<input type="hidden" name="id_token" value="{token}">
<input type="hidden" name="state" value="{escape(request["state"])}">
<noscript><button>Continue</button></noscript></form>
<script>document.getElementById("launch").submit()</script>""",
        )

    # --- The deep-linking return ----------------------------------------------------------------------------
    def content_returned(self, form: dict) -> tuple[int, bytes]:
        platform = self.platform
        if not form.get("JWT"):
            return self.refuse(400, "deep-linking return without JWT")
        try:
            with _DIRECT.open(f"{platform.tool_url}/lti/jwks/", timeout=5) as response:
                tool_jwks = json.load(response)
        except (OSError, ValueError) as problem:
            return self.refuse(502, f"the tool's key set: {problem!r}")
        try:
            message = platform.verified_answer(form["JWT"], tool_jwks)
        except jwt.PyJWTError as problem:
            return self.refuse(400, f"the tool's answer does not verify: {problem!r}")
        checks = {
            LTI + "message_type": "LtiDeepLinkingResponse",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": platform.deployment_id,
            "https://purl.imsglobal.org/spec/lti-dl/claim/data": "platform-opaque-42",
        }
        for name, value in checks.items():
            if message.get(name) != value:
                return self.refuse(400, f"the tool's answer has {name} {message.get(name)!r}, not {value!r}")
        links = [item for item in message.get(CONTENT_ITEMS) or [] if item.get("type") == "ltiResourceLink"]
        if not links:
            return self.refuse(400, "the tool's answer holds no ltiResourceLink")
        with platform._lock:
            for item in links:
                platform.activities.append(
                    {"title": item.get("title") or "Sonic Portal", "url": item["url"], "custom": item.get("custom")}
                )
        # As Moodle's return page does: out of the frame, back to the course, which lists the new activity.
        return 200, page(
            "Activity added",
            """<p>Added. <a href="/course/view.php" target="_top">Back to the course</a></p>
<script>window.top.location.href = "/course/view.php"</script>""",
        )


def page(title: str, content: str) -> bytes:
    """The course site's look: Moodle's, roughly (a top bar, the course's sections), and usable on a phone."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Test Moodle</title><link rel="icon" href="data:,">
<style>
  body {{ margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1d2125; background: #f5f5f5; }}
  header {{ background: #0f6cbf; color: #fff; padding: .6rem 1rem; font-weight: 600; }}
  main {{ max-width: 60rem; margin: 0 auto; padding: 1rem; }}
  .crumbs {{ color: #6a737b; font-size: .85rem; }}
  .topic {{ background: #fff; border: 1px solid #dee2e6; border-radius: .5rem; padding: .5rem 1rem 1rem; }}
  .activities {{ list-style: none; padding: 0; }}
  .activity {{ display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; padding: .5rem 0;
               border-bottom: 1px solid #dee2e6; }}
  .activity .name {{ flex: 1; font-weight: 600; }}
  .icon {{ color: #f98012; }}
  button {{ background: #0f6cbf; color: #fff; border: 0; border-radius: .3rem; padding: .45rem .9rem; font: inherit; }}
  form {{ margin: 0; }}
  iframe {{ display: block; width: 100%; height: 42rem; margin-top: 1rem; border: 1px solid #dee2e6;
            background: #fff; box-sizing: border-box; }}
  iframe[hidden] {{ display: none; }}
  .problem {{ color: #ca3120; font-weight: 600; }}
</style></head>
<body><header>Test Moodle</header><main>{content}</main></body></html>""".encode()


def frame_client() -> Client:
    """The browser inside the platform's frame: none of the portal's session, and CSRF checks on, as in a browser."""
    return Client(enforce_csrf_checks=True)


def page_code(response) -> str | None:
    found = re.search(r'data-code="([^"]+)"', response.content.decode())
    return found[1] if found else None
