"""``smalltown worlds list|create|stop|resume`` against a real database file."""

import subprocess
import sys


def worlds(*args, db):
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "worlds", *args, "--database", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.returncode, result.stdout + result.stderr


def test_create_list_stop_resume(tmp_path):
    db = f"sqlite:///{tmp_path}/worlds.db"
    assert "no worlds yet" in worlds("list", db=db)[1]
    rc, first = worlds("create", db=db)
    assert rc == 0
    first = first.strip().splitlines()[-1]
    rc, second = worlds("create", db=db)
    second = second.strip().splitlines()[-1]
    listed = worlds("list", db=db)[1]
    assert first in listed and second in listed and listed.count("(default)") == 1
    assert worlds("stop", second, db=db)[0] == 0
    assert f"{second}  stoppedByDeveloper" in worlds("list", db=db)[1]
    assert worlds("resume", second, db=db)[0] == 0
    assert f"{second}  running" in worlds("list", db=db)[1]
    rc, out = worlds("stop", "nope", db=db)
    assert rc == 1 and "no world 'nope'" in out
    rc, out = worlds("stop", db=db)
    assert rc == 2 and "needs a WORLD_ID" in out


def test_memories_reset(tmp_path):
    import asyncio

    from smalltown.town.schema import open_town_store

    db = f"sqlite:///{tmp_path}/mem.db"

    async def seed():
        store = await open_town_store(db)
        await store.run(lambda tx: tx.insert("memories", {"playerId": "p:1", "description": "x"}))
        await store.close()

    asyncio.run(seed())
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "memories", "reset", "--database", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "deleted 1 memories" in result.stdout


def test_replay_from_the_command_line(tmp_path):
    db = f"sqlite:///{tmp_path}/r.db"
    rc, world = worlds("create", db=db)
    assert rc == 0
    world = world.strip().splitlines()[-1]
    result = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "replay", world, "--database", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "equals the stored one" in result.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "smalltown.cli", "replay", "nope", "--database", db],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "no world 'nope'" in missing.stderr
