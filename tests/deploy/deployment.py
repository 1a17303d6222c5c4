"""The deployment's pieces run natively: compose.yaml as the Compose tool resolves it, the
proxy's nginx template rendered and run as nginx's image does, `smalltown run` with the
environment compose gives an app container, and a bare sync-protocol client for live
queries (the private PostgreSQL that checks passwords is in helpers.py).

No container runs here. What compose.yaml says is taken from the real Compose tool's
resolution of it (never copied into the tests); only network addresses are swapped for
loopback ones, since the containers' host names (postgres, redis, app1...) do not exist.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from websockets.sync.client import connect

from smalltown.runtime import wire

from conftest import require_service
from helpers import call_api as call  # noqa: F401  (re-exported for the deploy tests)
from helpers import wait_healthy

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "compose.yaml"
PROXY_TEMPLATE = REPO / "deploy" / "nginx" / "smalltown.conf.template"
HEALTHCHECK = REPO / "deploy" / "healthcheck.py"
APP_SERVICES = ("app1", "app2")  # the web processes, behind the proxy
BACKGROUND_SERVICES = ("runner", "worker")  # the processes of the other roles

# --- compose.yaml, as the Compose tool reads it -----------------------------------------


@functools.cache
def compose_command() -> tuple[str, ...]:
    """The Compose tool: Docker's v2 plugin (`docker compose`) or v1 (`docker-compose`,
    Debian's package), which both resolve a file without a Docker daemon."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return (docker, "compose")
    if tool := shutil.which("docker-compose"):
        return (tool,)
    require_service(
        "Docker Compose",
        "neither `docker compose` nor `docker-compose` is installed "
        "(scripts/install-deploy-tools.sh installs Debian's)",
    )
    raise AssertionError("unreachable")


def run_compose(*args: str, env_file: Path) -> subprocess.CompletedProcess[str]:
    """Run the Compose tool on compose.yaml with ``env_file`` as its .env, in an
    environment holding nothing else (so this shell's variables cannot leak in)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    return subprocess.run(
        [*compose_command(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )


def resolve_compose(settings: dict[str, str] | None = None) -> dict[str, Any]:
    """compose.yaml resolved by the Compose tool, with ``settings`` as the lines of .env."""
    key = tuple(sorted((settings or {}).items()))
    return _resolve(key)


@functools.cache
def _resolve(settings: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="smalltown-compose-") as folder:
        env_file = Path(folder) / ".env"
        env_file.write_text("".join(f"{name}={value}\n" for name, value in settings))
        done = run_compose("config", env_file=env_file)
    assert done.returncode == 0, f"the Compose tool refused compose.yaml:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


def environment(config: dict[str, Any], service: str) -> dict[str, str]:
    """A service's environment as a dict (compose allows a list of NAME=value too)."""
    env = config["services"][service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: "" if value is None else str(value) for name, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[dict[str, Any]]:
    """A service's published ports in the long form, whichever form the tool printed."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.append(port)
        else:
            published, target = str(port).rsplit(":", 1)
            ports.append({"published": published.rsplit(":", 1)[-1], "target": target})
    return ports


def native_app_environment(
    compose_env: dict[str, str], database_url: str, redis_url: str, port: int
) -> dict[str, str]:
    """An app container's environment for a `smalltown run` on this machine: exactly what
    compose gives the container, with its addresses made loopback ones. The database and
    Redis URLs must name compose's own services (checked), and are replaced by local ones."""
    database = urlsplit(compose_env["SMALLTOWN_DATABASE_URL"])
    assert (database.scheme, database.hostname) == ("postgresql", "postgres"), database
    assert urlsplit(database_url).scheme == "postgresql"
    redis = urlsplit(compose_env["SMALLTOWN_REDIS_URL"])
    assert (redis.scheme, redis.hostname) == ("redis", "redis"), redis
    return {
        **compose_env,
        "SMALLTOWN_DATABASE_URL": database_url,
        "SMALLTOWN_REDIS_URL": redis_url,
        "SMALLTOWN_HOST": "127.0.0.1",
        "SMALLTOWN_PORT": str(port),
    }


def mounts(config: dict[str, Any], service: str) -> dict[str, Path]:
    """A service's files and folders from the host: where each is mounted -> its source."""
    found = {}
    for volume in config["services"][service].get("volumes") or []:
        source, target = (
            (volume["source"], volume["target"])
            if isinstance(volume, dict)
            else str(volume).split(":")[:2]
        )
        if source.startswith("/"):
            found[target] = Path(source)
    return found


def postgres_init_scripts(config: dict[str, Any]) -> list[Path]:
    """The files compose.yaml mounts into the PostgreSQL image's
    /docker-entrypoint-initdb.d, in the order the image runs them (by name)."""
    scripts = {
        target: source
        for target, source in mounts(config, "postgres").items()
        if target.startswith("/docker-entrypoint-initdb.d/")
    }
    return [scripts[target] for target in sorted(scripts)]


def proxy_templates(config: dict[str, Any]) -> dict[str, Path]:
    """The templates compose.yaml mounts into nginx's image: the name of the file each
    becomes in /etc/nginx/conf.d -> the template."""
    return {
        target.rsplit("/", 1)[1].removesuffix(".template"): source
        for target, source in mounts(config, "proxy").items()
        if target.startswith("/etc/nginx/templates/") and target.endswith(".template")
    }


def initialise_database(config: dict[str, Any], database_url: str) -> None:
    """Run compose's init scripts on a new database, as the PostgreSQL image does on its
    first start (psql, stopping at the first error)."""
    for script in postgres_init_scripts(config):
        assert script.suffix == ".sql", script
        done = subprocess.run(
            ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-f", str(script), database_url],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{script}: {done.stderr}"


# --- processes ----------------------------------------------------------------------------


class SmalltownProcess:
    """`smalltown run` (the image's entry point) in a child process, configured by its
    environment alone, as in a container."""

    def __init__(self, folder: Path, env: dict[str, str], name: str) -> None:
        self.name = name
        self.port = int(env["SMALLTOWN_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        smalltown = Path(sys.executable).parent / "smalltown"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(smalltown), "run"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                cwd=folder,
            )

    def wait_healthy(self, timeout: float = 90) -> SmalltownProcess:
        wait_healthy(self.url, self.proc, timeout=timeout, log=self.log)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class NativeProxy:
    """Debian's nginx running the repository's proxy template, rendered as nginx's official
    image renders it: envsubst of the variables that NGINX_ENVSUBST_FILTER selects from the
    container's environment, the result included in the http block."""

    def __init__(self, folder: Path, env: dict[str, str], templates: dict[str, Path]) -> None:
        self.folder = folder
        self.env = env
        self.templates = templates
        self.port = int(env["PROXY_LISTEN"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def render(self) -> Path:
        """Each template into conf.d/, as the image's entrypoint writes them; the folder."""
        envsubst = shutil.which("envsubst")
        if envsubst is None:
            require_service("envsubst", "not installed (apt install gettext-base)")
        pattern = re.compile(self.env.get("NGINX_ENVSUBST_FILTER", ""))
        names = [name for name in self.env if pattern.search(name)]
        conf_d = self.folder / "conf.d"
        conf_d.mkdir(exist_ok=True)
        for name, template in self.templates.items():
            (conf_d / name).write_text(
                subprocess.run(
                    [str(envsubst), " ".join(f"${{{name}}}" for name in names)],
                    input=template.read_text(),
                    capture_output=True,
                    text=True,
                    check=True,
                    env={"PATH": os.environ.get("PATH", ""), **self.env},
                ).stdout
            )
        return conf_d

    def main_config(self, conf_d: Path) -> Path:
        """What stands in for the image's stock nginx.conf: events, and an http block that
        includes conf.d/*.conf; paths inside this test's folder."""
        folder = self.folder
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {kind}_temp_path {folder}/{kind}_temp;"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = folder / "nginx.conf"
        config.write_text(
            f"{user}worker_processes auto;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log {folder}/access.log;\n"
            f"{temp}\n"
            f"    include {conf_d}/*.conf;\n"
            "}\n"
        )
        return config

    def command(self, config: Path, *extra: str) -> list[str]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            require_service("nginx", "not installed (apt install nginx)")
        return [
            nginx,
            "-p",
            f"{self.folder}/",
            "-c",
            str(config),
            "-e",
            f"{self.folder}/error.log",
            *extra,
        ]

    def start(self, timeout: float = 20) -> NativeProxy:
        config = self.main_config(self.render())
        checked = subprocess.run(self.command(config, "-t"), capture_output=True, text=True)
        assert checked.returncode == 0, f"nginx -t refused the configuration:\n{checked.stderr}"
        self.proc = subprocess.Popen(
            self.command(config, "-g", f"daemon off; pid {self.folder}/nginx.pid;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/proxy-health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.folder / "error.log"
                raise AssertionError(
                    f"nginx did not start:\n{log.read_text() if log.exists() else ''}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # nginx's fast shutdown
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The container's health check (deploy/healthcheck.py) run with ``env``, as Docker
    runs it inside the container."""
    return subprocess.run(
        ["python3", str(HEALTHCHECK)],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=30,
    )


# --- a live query over the sync protocol ------------------------------------------------


class LiveQuery:
    """One live query on a sync WebSocket (the Convex protocol, as a page speaks it), read
    with blocking calls so tests that drive child processes need no event loop."""

    def __init__(self, ws_url: str, path: str, args: dict[str, Any]) -> None:
        self._closing = contextlib.ExitStack()
        self.ws = self._closing.enter_context(connect(f"{ws_url}/api/1.48.0/sync", open_timeout=10))
        self.value: Any = None
        self.answered = False
        self._send(
            {
                "type": "Connect",
                "sessionId": os.urandom(8).hex(),
                "connectionCount": 0,
                "lastCloseReason": "InitialConnect",
                "clientTs": 0,
            }
        )
        self._send(
            {
                "type": "ModifyQuerySet",
                "baseVersion": 0,
                "newVersion": 1,
                "modifications": [{"type": "Add", "queryId": 0, "udfPath": path, "args": [args]}],
            }
        )

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 30) -> Any:
        """The query's value once ``predicate`` holds for it, as updates arrive."""
        deadline = time.monotonic() + timeout
        while not (self.answered and predicate(self.value)):
            left = deadline - time.monotonic()
            assert left > 0, f"the live query stayed at {self.value!r}"
            message = json.loads(self.ws.recv(timeout=left))
            if message["type"] != "Transition":
                continue
            for change in message["modifications"]:
                if change["type"] == "QueryUpdated":
                    self.value, self.answered = wire.decode(change["value"]), True
                elif change["type"] == "QueryFailed":
                    raise AssertionError(f"the live query failed: {change['errorMessage']}")
        return self.value

    def close(self) -> None:
        self._closing.close()

    def __enter__(self) -> LiveQuery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
