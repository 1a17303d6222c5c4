"""The processes of ``smalltown bench town``: ``smalltown run --role ROLE`` children on one
database and one Redis, each on a loopback port of its own, speaking to the fake LLM.

Workers share the K LLM slots (``SMALLTOWN_LLM_CONCURRENCY``, split as evenly as it goes);
web and runner processes get one each (nothing of theirs calls the LLM in the bench). Each
process logs to a file of the run's folder; a process that fails to start is reported with
the end of its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from smalltown.bench.bandwidth_bench import _free_port, _wait_for_health

#: what each role's processes are called in what the bench prints
ROLES = ("runner", "worker", "web")
#: LLM variables of the machine's environment that would pick a real LLM before the fake
OTHER_LLMS = ("OPENAI_API_KEY", "TOGETHER_API_KEY", "OLLAMA_HOST", "LLM_API_KEY")


def cpu_seconds(pid: int) -> float:
    """CPU time process ``pid`` has used (user and system); NaN where ``/proc`` says not."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class TownBenchError(Exception):
    """The bench could not run; the message says why (a process's log end included)."""


def parse_nice(text: str) -> dict[str, int]:
    """``--nice``: one number for every process (the roles' and the bench's), or
    ``role=N`` pairs, comma-separated (``worker=10``); ValueError says what is wrong."""
    text = text.strip()
    if text.lstrip("+-").isdigit():
        return dict.fromkeys((*ROLES, "bench"), int(text))
    out: dict[str, int] = {}
    for pair in text.split(","):
        role, _, value = pair.partition("=")
        role, value = role.strip(), value.strip()
        if role not in (*ROLES, "bench") or not value.lstrip("+-").isdigit():
            raise ValueError(f"expected N or ROLE=N,... (roles: {', '.join(ROLES)}, bench)")
        out[role] = int(value)
    return out


def set_nice(pid: int, nice: int, what: str) -> None:
    """Process ``pid``'s CPU priority (below 0 takes root)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError as exc:
        raise TownBenchError(f"cannot set the {what}'s CPU priority to {nice}: {exc}") from None


def split_slots(slots: int, workers: int) -> list[int]:
    """``slots`` shared by ``workers`` as evenly as whole numbers go (the first ones take
    the remainder)."""
    if workers < 1 or slots < workers:
        raise TownBenchError(f"{slots} LLM slots cannot be shared by {workers} workers")
    base, extra = divmod(slots, workers)
    return [base + (i < extra) for i in range(workers)]


@dataclass
class TownProcess:
    """One ``smalltown run --role ROLE`` child."""

    role: str
    port: int
    log: Path
    proc: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/sync"

    def cpu_seconds(self) -> float:
        """CPU time the process has used (user and system, Linux's ``/proc``); NaN where
        that cannot be read."""
        return cpu_seconds(self.proc.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Town:
    """The processes of one run: started by :meth:`start`, stopped by :meth:`stop`."""

    database: str
    redis: str
    llm_url: str
    folder: Path
    time_scale: float = 1.0
    processes: list[TownProcess] = field(default_factory=list)

    def by_role(self, role: str) -> list[TownProcess]:
        return [p for p in self.processes if p.role == role]

    def start(self, role: str, slots: int = 1, nice: int | None = None) -> TownProcess:
        """A process of ``role`` with ``slots`` LLM calls in flight, at CPU priority
        ``nice`` if given (below its own, or 0: root only), once it answers ``/health``."""
        port = _free_port()
        log = self.folder / f"{role}-{port}.log"
        env = {
            **os.environ,
            "SMALLTOWN_APP": "smalltown.town",
            "SMALLTOWN_DATABASE_URL": self.database,
            "SMALLTOWN_REDIS_URL": self.redis,
            "SMALLTOWN_ROLE": role,
            "SMALLTOWN_PORT": str(port),
            "SMALLTOWN_HOST": "127.0.0.1",
            "SMALLTOWN_TIME_SCALE": str(self.time_scale),
            "SMALLTOWN_EMBEDDINGS": "provider",
            "SMALLTOWN_LLM_CONCURRENCY": str(slots),
            "LLM_API_URL": f"{self.llm_url}/v1",
            "LLM_MODEL": "fake-chat",
            "LLM_EMBEDDING_MODEL": "fake-embed",
        }
        for name in OTHER_LLMS:
            env.pop(name, None)  # the fake LLM, whatever this machine has set
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "smalltown", "run"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        process = TownProcess(role, port, log, proc)
        self.processes.append(process)
        if nice is not None:
            set_nice(proc.pid, nice, role)
        try:
            _wait_for_health(port, proc, timeout=120)
        except RuntimeError as exc:
            tail = process.log_tail()
            raise TownBenchError(f"the {role} process: {exc}; its log ends:\n{tail}") from None
        return process

    def cpu_by_role(self) -> dict[str, float]:
        """CPU seconds used so far by each role's processes together."""
        out: dict[str, float] = {}
        for process in self.processes:
            out[process.role] = out.get(process.role, 0.0) + process.cpu_seconds()
        return out

    def exited(self) -> list[TownProcess]:
        """Processes that stopped while they should run."""
        return [p for p in self.processes if p.proc.poll() is not None]

    def stop(self) -> None:
        """SIGTERM to every process (a runner hands its leases on), then SIGKILL to any
        still running 30 s later."""
        for process in self.processes:
            if process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.proc.wait(30)
            except subprocess.TimeoutExpired:
                process.proc.kill()
                process.proc.wait(10)
