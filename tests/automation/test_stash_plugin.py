"""The Stash plugin script, run as Stash runs it: the JSON Stash gives plugins on standard
input, Stash's GraphQL (a loopback stand-in answering the plugin-settings query for the
hook's session cookie) and a live StashHog receiving the hook."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from automation.hooks import HOOK_JOB
from automation.models import HookedScene
from jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "stash-plugin" / "stashhog_forward.py"
COOKIE = {"Name": "session", "Value": "cookie-of-the-user", "Path": "", "Domain": "",
          "Expires": "0001-01-01T00:00:00Z", "HttpOnly": False}


class StashSettings(ThreadingHTTPServer):
    """Answers the plugin's settings query, for the right cookie only."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.queries: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.queries.append(body["query"])
        if self.headers.get("Cookie") != "session=cookie-of-the-user":
            self.send_response(401)
            self.end_headers()
            return
        answer = json.dumps({"data": {"configuration": {"plugins": {
            "stashhog": self.server.settings}}}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def stash_settings():
    servers = []

    def start(settings: dict) -> StashSettings:
        server = StashSettings(settings)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def run_plugin(stash: StashSettings, hook_context: dict | None) -> dict:
    payload = {
        "server_connection": {"Scheme": "http", "Host": "0.0.0.0",
                              "Port": stash.server_address[1], "SessionCookie": COOKIE,
                              "Dir": "/root/.stash", "PluginDir": str(SCRIPT.parent)},
        "args": {"hookContext": hook_context} if hook_context else {},
    }
    done = subprocess.run([sys.executable, str(SCRIPT)], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=30, check=True)
    return json.loads(done.stdout)


@pytest.fixture
def staff_token(django_user_model):
    user = django_user_model.objects.create_user("stash-plugin", is_staff=True)
    return Token.objects.create(user=user).key


def test_the_plugin_forwards_a_scene_hook_to_stashhog(live_server, stash_settings, staff_token,
                                                     live_celery):
    stash = stash_settings({"stashhogUrl": live_server.url + "/", "stashhogToken": staff_token})
    answer = run_plugin(stash, {"type": "Scene.Update.Post", "id": 45,
                                "input": {"id": "45", "tag_ids": ["1"]},
                                "inputFields": ["tag_ids", "id"]})
    assert answer == {"output": "StashHog took 1 scene(s) from Scene.Update.Post"}
    assert list(HookedScene.objects.values_list("scene_id", flat=True)) == ["45"]
    assert Job.objects.filter(type=HOOK_JOB).count() == 1
    assert "plugins" in stash.queries[0]


def test_the_plugin_reports_what_is_missing_without_quoting_the_token(
        live_server, stash_settings, staff_token):
    answer = run_plugin(stash_settings({}), {"type": "Scene.Create.Post", "id": 1})
    assert "set the StashHog URL and API token" in answer["error"]
    answer = run_plugin(stash_settings({"stashhogUrl": live_server.url,
                                        "stashhogToken": "not-" + staff_token}),
                        {"type": "Scene.Create.Post", "id": 1})
    assert answer["error"] == f"StashHog plugin: StashHog at {live_server.url} answered HTTP 401"
    assert staff_token not in answer["error"]
    assert not HookedScene.objects.exists()
