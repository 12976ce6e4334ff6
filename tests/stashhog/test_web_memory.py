"""The web processes' memory under load (stashhog/gunicorn_conf.py): glibc would keep an
allocation arena for each thread that allocated at the same time as another, and the
garbage collector would walk (and so copy) every object they inherit from gunicorn's
master."""

import os
import subprocess
import sys

import pytest

ALLOCATE_IN_EIGHT_THREADS = """
import ctypes, threading
{setup}
together = threading.Barrier(8)
kept = []
def allocate():
    together.wait()
    kept.extend(bytearray(20000) for _ in range(200))
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena N:" block per arena, on stderr
"""


def arenas_after_eight_threads(setup: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    result = subprocess.run([sys.executable, "-c", ALLOCATE_IN_EIGHT_THREADS.format(setup=setup)],
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    return sum(line.startswith("Arena ") for line in result.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_web_server_configuration_keeps_two_malloc_arenas():
    assert arenas_after_eight_threads("") > 2  # glibc's own default: one per thread
    assert arenas_after_eight_threads("import stashhog.gunicorn_conf") == 2


def test_the_web_processes_inherit_a_heap_the_garbage_collector_leaves_alone():
    frozen = subprocess.run(
        [sys.executable, "-c", "import gc, stashhog.gunicorn_conf as conf; "
                               "before = gc.get_freeze_count(); conf.when_ready(None); "
                               "print(before, gc.get_freeze_count())"],
        capture_output=True, text=True, timeout=60, check=True)
    before, after = map(int, frozen.stdout.split())
    assert before == 0
    assert after > 10_000  # what the configuration imported (gunicorn adds the whole app)
