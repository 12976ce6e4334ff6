"""Which process runs a job, and whether that process is still there.

A Celery node name is not an identity: two workers started with the same name (two
``celery worker`` on one host without ``-n``) share it. A job therefore records the
process that claimed it: the host name, the pid, and an instance stamp (the kernel's boot
id and the process's start time) that tells a live process from a later one reusing its
pid, on a restarted machine or container.

- On the recording host, the answer is exact: the pid runs and has the same instance stamp.
- For another host, its node is asked which tasks it is executing (Celery's
  ``inspect active``); a node that does not answer is gone.
"""

import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from celery import current_app

logger = logging.getLogger("stashhog.jobs")

INSPECT_TIMEOUT = 2.0  # seconds
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def _boot_id() -> str:
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return ""


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot; "" without /proc (then the pid
    alone identifies a process); None when no such process runs."""
    if not Path("/proc/self/stat").exists():
        return ""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: fields are counted after its ")".
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    instance: str  # "<boot id>/<start time>": unique for a process on one kernel

    @classmethod
    def current(cls) -> "ProcessIdentity":
        pid = os.getpid()
        return cls(socket.gethostname(), pid, f"{_boot_id()}/{_started(pid) or ''}")

    @property
    def boot_id(self) -> str:
        return self.instance.split("/", 1)[0]

    def as_fields(self) -> dict:
        """The Job fields that record this process."""
        return {"worker_host": self.host, "worker_pid": self.pid,
                "worker_instance": self.instance}


def recorded_identity(job) -> ProcessIdentity | None:
    if not job.worker_host or job.worker_pid is None:
        return None
    return ProcessIdentity(job.worker_host, job.worker_pid, job.worker_instance)


def process_alive(identity: ProcessIdentity) -> bool | None:
    """True or False for a process of this machine (same host name and boot); None for
    one this machine cannot see."""
    here = ProcessIdentity.current()
    if identity.host != here.host or identity.boot_id != here.boot_id:
        return None
    if not _pid_runs(identity.pid):
        return False
    started = _started(identity.pid)
    if started is None:
        return False
    return not started or identity.instance == f"{identity.boot_id}/{started}"


def executing_tasks(nodes: Iterable[str]) -> dict[str, set[str]]:
    """Task ids each answering node among ``nodes`` is executing (absent: no answer)."""
    inspect = current_app.control.inspect(destination=sorted(nodes), timeout=INSPECT_TIMEOUT)
    replies = inspect.active()
    executing: dict[str, set[str]] = {}
    for node, tasks in (replies or {}).items():
        executing.setdefault(node, set()).update(task["id"] for task in tasks or ())
    return executing


AskNodes = Callable[[Iterable[str]], dict[str, set[str]]]


def lost_jobs(jobs: list, ask_nodes: AskNodes | None = None) -> list:
    """The jobs among ``jobs`` (running, each with its recorded worker) whose process is
    gone. When other nodes must be asked and the asking fails, their jobs are not judged."""
    lost, remote = [], []
    for job in jobs:
        identity = recorded_identity(job)
        alive = process_alive(identity) if identity else None
        if alive is None:
            remote.append(job)
        elif not alive:
            lost.append(job)
    if remote:
        try:
            executing = (ask_nodes or executing_tasks)({job.worker for job in remote})
        except Exception as exc:
            logger.warning("could not ask workers what they run (%s); their jobs are not "
                           "judged", type(exc).__name__)
            return lost
        lost += [job for job in remote if str(job.id) not in executing.get(job.worker, ())]
    return lost
