"""What 100 people do at once on the portal, for `manage.py load_test` (which starts the server, makes the accounts
and prints the numbers). Each simulated user is a signed-in browser: it mostly reads pages, sometimes sends a
portrait through the resumable upload, and sometimes renders a video (cancelled at once, so the plan's limit on jobs at
once never turns a submit into a refusal)."""

import base64
import json
import os
import random
from itertools import count

from locust import HttpUser, between, task

SESSIONS = json.loads(os.environ["LOAD_TEST_SESSIONS"])
PORTRAIT = base64.b64decode(os.environ["LOAD_TEST_PORTRAIT"])
_next = count()


class Visitor(HttpUser):
    wait_time = between(1, 3)

    def on_start(self):
        account = SESSIONS[next(_next) % len(SESSIONS)]
        self.client.cookies.set("sessionid", account["session"])
        self.client.cookies.set("csrftoken", account["csrf"])
        self.csrf = account["csrf"]
        self.portrait, self.audio = account["portrait"], account["audio"]

    # --- Page views -------------------------------------------------------------------------------------------
    @task(4)
    def home(self):
        self.client.get("/", name="GET / (home)")

    @task(4)
    def library(self):
        self.client.get("/library/", name="GET /library/")

    @task(3)
    def videos(self):
        self.client.get("/jobs/", name="GET /jobs/")

    @task(3)
    def new_video(self):
        self.client.get("/jobs/new/", name="GET /jobs/new/")

    @task(1)
    def plans(self):
        self.client.get("/billing/", name="GET /billing/")

    @task(2)
    def health(self):
        self.client.get("/healthz", name="GET /healthz (trivial)")

    # --- Writes -----------------------------------------------------------------------------------------------
    @task(1)
    def upload_portrait(self):
        headers = {
            "Tus-Resumable": "1.0.0",
            "X-CSRFToken": self.csrf,
            "Upload-Length": str(len(PORTRAIT)),
            "Upload-Metadata": "filename "
            + base64.b64encode(f"load-{random.randrange(10**6)}.jpg".encode()).decode()
            + ",kind "
            + base64.b64encode(b"portrait").decode(),
        }
        created = self.client.post("/library/uploads/", headers=headers, name="POST /library/uploads/ (create)")
        if created.status_code != 201:
            return
        self.client.patch(
            created.headers["Location"],
            data=PORTRAIT,
            name="PATCH /library/uploads/<id>/ (part)",
            headers={
                "Tus-Resumable": "1.0.0",
                "X-CSRFToken": self.csrf,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )

    @task(2)
    def render(self):
        form = {
            "csrfmiddlewaretoken": self.csrf,
            "portrait": self.portrait,
            "audio": self.audio,
            "resolution": 256,
            "dynamic_scale": 1,
            "motion_scale": 1,
            "expand_ratio": 0.5,
            "crop_face": "on",
            "action": "submit",
        }
        response = self.client.post(
            "/jobs/new/", data=form, headers={"Accept": "application/json"}, name="POST /jobs/new/ (submit)"
        )
        if response.status_code == 201:
            job = response.json()["id"]
            self.client.post(
                f"/jobs/{job}/cancel/",
                data={"csrfmiddlewaretoken": self.csrf},
                name="POST /jobs/<id>/cancel/",
                allow_redirects=False,
            )
