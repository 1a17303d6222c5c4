"""README's backup and restore commands, run as written (read from README, so they cannot
drift) against a running town on SQLite and on PostgreSQL: the restored town has what it
had at the backup, not what came after, and steps on from there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from deployment import REPO, LiveQuery, SmalltownProcess, call

from conftest import new_postgres_database, require_service
from helpers import free_port

pytestmark = pytest.mark.slow


def readme_steps(kind: str) -> tuple[list[str], list[str]]:
    """The commands README gives for ``kind`` ("SQLite" or "PostgreSQL"): those that back
    up, and those after its "# restore" comment."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("\n### Backups and restore\n") :]
    block = re.search(rf"\n{kind}\b.*?:\n\n```sh\n(.*?)```", section, re.DOTALL)
    assert block, f"README shows no {kind} backup commands"
    backup: list[str] = []
    restore: list[str] = []
    current = backup
    for line in block.group(1).splitlines():
        if line.startswith("# restore"):
            current = restore
        elif line.strip() and not line.startswith("#"):
            current.append(line)
    assert backup and restore
    return backup, restore


def run_steps(lines: list[str], folder: Path, url: str = "") -> None:
    for line in lines:
        tool = line.split()[0]
        if tool not in ("rm", "cp") and shutil.which(tool) is None:
            require_service(tool, "not installed (scripts/install-deploy-tools.sh, postgresql)")
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=folder,
            env={**os.environ, "URL": url},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"


def start_town(folder: Path, database_url: str) -> SmalltownProcess:
    env = {
        "SMALLTOWN_DATABASE_URL": database_url,
        "SMALLTOWN_HOST": "127.0.0.1",
        "SMALLTOWN_PORT": str(free_port()),
        "SMALLTOWN_REDIS_URL": "",
        "SMALLTOWN_APP": "smalltown.town",
    }
    return SmalltownProcess(folder, env, f"town-{env['SMALLTOWN_PORT']}").wait_healthy()


def join(town: SmalltownProcess, world: str, name: str) -> str:
    """``name`` joins the world; returns their identifier once the world has them."""
    joined = call(
        town.url, "mutation", "world:joinWorld", {"worldId": world, "name": name, "character": "f2"}
    )
    who = joined["tokenIdentifier"]
    with LiveQuery(town.ws_url, "world:worldRoster", {"worldId": world}) as roster:
        roster.wait_for(lambda r: any(p.get("human") == who for p in r["players"]))
    return who


def backup_and_restore(
    folder: Path, kind: str, database_url: str, restored_url: str | None = None
) -> None:
    """Run a town, back it up while it runs, change it, stop it, restore it with README's
    commands, and check the town resumes from the backup."""
    backup, restore = readme_steps(kind)
    town = start_town(folder, database_url)
    try:
        world = call(town.url, "query", "world:defaultWorldStatus", {})["worldId"]
        kept = join(town, world, "Ada")
        run_steps(backup, folder, database_url)
        lost = join(town, world, "Bo")  # after the backup: gone once it is restored
    finally:
        town.stop()
    run_steps(restore, folder, restored_url or database_url)

    town = start_town(folder, restored_url or database_url)
    try:
        assert call(town.url, "query", "world:defaultWorldStatus", {})["worldId"] == world
        roster = call(town.url, "query", "world:worldRoster", {"worldId": world})
        humans = {p.get("human") for p in roster["players"]}
        assert kept in humans and lost not in humans
        with LiveQuery(town.ws_url, "world:worldClock", {"worldId": world}) as clock:
            start = clock.wait_for(lambda c: c is not None)["currentTime"]
            # Within the lease of the process the backup was taken from, and a step.
            clock.wait_for(lambda c: c["currentTime"] > start, timeout=60)
    finally:
        town.stop()


def test_a_sqlite_town_restored_from_its_backup_resumes(tmp_path):
    backup_and_restore(tmp_path, "SQLite", "sqlite:///./data/smalltown.db")


@pytest.fixture
async def restored_postgres_url() -> AsyncIterator[str]:
    async for url in new_postgres_database():
        yield url


def test_a_postgres_town_restored_from_its_backup_resumes(
    tmp_path, postgres_url, restored_postgres_url
):
    # Restored into another, empty database: the same as emptying the first.
    backup_and_restore(tmp_path, "PostgreSQL", postgres_url, restored_postgres_url)
