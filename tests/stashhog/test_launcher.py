"""`make run`'s launcher on a bare machine (no DATABASE_URL, no REDIS_URL), and its
supervisor: children restarted with backoff, the embedded Redis among them."""

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
import redis

from stashhog import embedded_redis
from stashhog.launcher import Child, Supervisor

ROOT = Path(__file__).resolve().parents[2]


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


def python(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code])


def test_a_child_that_exits_is_restarted_with_backoff_while_the_others_keep_running():
    now, starts = [0.0], []

    def start_crasher():
        starts.append(now[0])
        return python("raise SystemExit(3)")

    crasher = Child("crasher", start_crasher)
    sleeper = Child("sleeper", lambda: python("import time; time.sleep(60)"))
    supervisor = Supervisor([crasher, sleeper], clock=lambda: now[0], backoff_start=1.0,
                            backoff_max=4.0, stable_after=60.0)
    supervisor.start()
    first_sleeper = sleeper.process
    try:
        for second in range(20):
            now[0] = float(second)
            supervisor.poll()
            if crasher.process is not None:  # started: let it exit, and notice at once
                crasher.process.wait(timeout=10)
                supervisor.poll()
        assert starts == [0, 1, 3, 7, 11, 15, 19]  # 1, 2, 4, then at most 4 s apart
        assert sleeper.process is first_sleeper
        assert first_sleeper.poll() is None
    finally:
        supervisor.stop()
    assert first_sleeper.poll() is not None


def test_a_child_that_ran_long_enough_starts_its_backoff_afresh():
    now = [0.0]
    child = Child("flaky", lambda: python("import time; time.sleep(0.2)"))
    supervisor = Supervisor([child], clock=lambda: now[0], stable_after=60.0)
    supervisor.start()
    child.failures = 5
    now[0] = 61.0
    supervisor.poll()  # still running after a minute: healthy again
    child.process.wait(timeout=10)
    supervisor.poll()
    assert child.failures == 1
    assert child.restart_at == 62.0


def test_the_embedded_redis_is_supervised_and_keeps_its_data_across_a_crash(tmp_path):
    socket_path = tmp_path / "redis.sock"
    now = [0.0]
    child = Child("redis", lambda: embedded_redis.start(socket_path), tier=0)
    supervisor = Supervisor([child], clock=lambda: now[0])
    supervisor.start()
    try:
        redis.Redis(unix_socket_path=str(socket_path)).rpush("queue", "a job message")
        child.process.kill()  # SIGKILL: no chance to save anything on the way out
        child.process.wait(timeout=10)
        supervisor.poll()
        now[0] = 1.0
        supervisor.poll()
        assert child.process is not None
        assert child.process.poll() is None
        assert redis.Redis(unix_socket_path=str(socket_path)).lrange("queue", 0, -1) == [
            b"a job message"]
    finally:
        supervisor.stop()


def test_a_child_that_cannot_start_is_retried_later():
    now, attempts = [0.0], []

    def start():
        attempts.append(now[0])
        if len(attempts) == 1:
            raise OSError("no such program")
        return python("import time; time.sleep(60)")

    child = Child("web", start)
    supervisor = Supervisor([child], clock=lambda: now[0])
    supervisor.start()
    try:
        assert child.process is None
        now[0] = 1.0
        supervisor.poll()
        assert attempts == [0.0, 1.0]
        assert child.process.poll() is None
    finally:
        supervisor.stop()


@pytest.mark.e2e
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
