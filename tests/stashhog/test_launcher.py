"""`make run`'s launcher on a bare machine: no DATABASE_URL, no REDIS_URL."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_launcher_serves_health_on_the_embedded_defaults(tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(STASHHOG_DATA_DIR=str(tmp_path), STASHHOG_PORT=str(port))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    first_user = subprocess.run([sys.executable, "manage.py", "ensure_admin"], cwd=ROOT, env=env,
                                check=True, capture_output=True, text=True)
    assert "password:" in first_user.stdout
    again = subprocess.run([sys.executable, "manage.py", "ensure_admin"], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True)
    assert again.stdout == ""  # the password is printed once only

    launcher = subprocess.Popen([sys.executable, "-m", "stashhog.launcher"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, status = time.monotonic() + 60, None
        while time.monotonic() < deadline and status != 200:
            time.sleep(0.5)
            status = get_status(f"http://127.0.0.1:{port}/api/health")
        assert status == 200
        assert (tmp_path / "redis.sock").exists()
        assert (tmp_path / "stashhog.sqlite3").exists()
    finally:
        launcher.send_signal(signal.SIGINT)
        launcher.wait(timeout=60)
    assert get_status(f"http://127.0.0.1:{port}/api/health") is None
    assert not (tmp_path / "redis.sock").exists()
