"""The admin's system functions on a server with no app: imported tables read page by
page over HTTP and the sync socket with the admin key, refused to anyone else."""

import asyncio
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import httpx
import pytest
import websockets

from smalltown.migrate.export_json import dumps
from smalltown.migrate.import_zip import import_zip
from smalltown.runtime import ADMIN, ANONYMOUS, FunctionError, Identity, Registry, Runtime, wire
from smalltown.runtime.runtime import with_system_tables
from smalltown.server import ServerSettings, create_app
from smalltown.store import Schema, encode_id, open_store
from smalltown.store.ids import new_internal_id

from conftest import require_service
from helpers import RunningServer

JS = Path(__file__).resolve().parents[1] / "js"
SYSTEM_PATHS = ("_system/cli/tables", "_system/cli/tableData", "_system/cli/tableSize")


async def _imported(url, tmp_path, n=25):
    """A database holding one table no app declares (``notes``, ``n`` documents)."""
    docs = [
        {"_id": encode_id(10005, new_internal_id()), "_creationTime": 1.7e12 + i, "n": i}
        for i in range(n)
    ]
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as z:
        z.writestr("_tables/documents.jsonl", '{"name": "notes", "id": 10005}\n')
        z.writestr("notes/documents.jsonl", "".join(dumps(d) + "\n" for d in docs))
    store = await open_store(url, with_system_tables(Schema([])))
    try:
        await import_zip(store, tmp_path / "s.zip")
    finally:
        await store.close()
    return docs


async def test_only_the_admin_may_call_them(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    docs = await _imported(url, tmp_path, n=3)
    store = await open_store(url)
    try:
        runtime = await Runtime.create(store, Schema([]), Registry())
        args = {
            "_system/cli/tables": {"paginationOpts": {"numItems": 10, "cursor": None}},
            "_system/cli/tableData": {
                "table": "notes",
                "paginationOpts": {"numItems": 10, "cursor": None},
            },
            "_system/cli/tableSize": {"tableName": "notes"},
        }
        for path in SYSTEM_PATHS:
            for caller in (ANONYMOUS, Identity("user", "u")):
                with pytest.raises(FunctionError, match="Could not find public function"):
                    await runtime.query(path, args[path], caller)
        listed = await runtime.query("_system/cli/tables", args["_system/cli/tables"], ADMIN)
        assert listed.value == {
            "page": [{"name": "notes"}],
            "isDone": True,
            "continueCursor": "notes",
        }
        size = await runtime.query("_system/cli/tableSize", args["_system/cli/tableSize"], ADMIN)
        assert size.value == 3.0
        data = await runtime.query("_system/cli/tableData", args["_system/cli/tableData"], ADMIN)
        assert [d["_id"] for d in data.value["page"]] == [d["_id"] for d in reversed(docs)]
        # smalltown's own tables (the secrets among them) are not for reading
        with pytest.raises(FunctionError, match="no table '_smalltown_secrets'"):
            secrets = {**args["_system/cli/tableData"], "table": "_smalltown_secrets"}
            await runtime.query("_system/cli/tableData", secrets, ADMIN)
    finally:
        await store.close()


@pytest.fixture
async def server(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    docs = await _imported(url, tmp_path)
    async with RunningServer(create_app(url, None)) as s:
        s.docs = docs
        yield s


async def test_over_http_a_table_is_read_page_by_page_with_the_admin_key(server):
    key = server.app.state.runtime.auth.admin_key
    admin = {"authorization": f"Convex {key}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

        async def query(path, args, headers):
            reply = await client.post(
                "/api/query", json={"path": path, "args": args}, headers=headers
            )
            assert reply.status_code == 200, reply.text
            return reply.json()

        refused = await query("_system/cli/tables", {"paginationOpts": {"numItems": 5}}, {})
        assert refused["status"] == "error" and "Could not find" in refused["errorMessage"]
        seen, cursor = [], None
        while True:
            page = await query(
                "_system/cli/tableData",
                {
                    "table": "notes",
                    "order": "asc",
                    "paginationOpts": {"numItems": 10, "cursor": cursor},
                },
                admin,
            )
            assert page["status"] == "success", page
            seen += page["value"]["page"]
            if page["value"]["isDone"]:
                break
            cursor = page["value"]["continueCursor"]
        assert [d["_id"] for d in seen] == [d["_id"] for d in server.docs]
        assert [d["n"] for d in seen] == [str(d["n"]) for d in server.docs]  # Int64s, as text
        bad = await query(
            "_system/cli/tableData",
            {"table": "notes", "paginationOpts": {"numItems": 10, "cursor": "nonsense"}},
            admin,
        )
        assert bad["status"] == "error" and "cursor" in bad["errorMessage"]


async def test_over_the_sync_socket_the_admin_subscribes_to_a_tables_data(server):
    ws = await websockets.connect(server.ws_url + "/api/1.48.0/sync")
    try:
        await ws.send(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": "s",
                    "connectionCount": 0,
                    "lastCloseReason": "InitialConnect",
                    "clientTs": 0,
                }
            )
        )

        async def results(query_set, identity):
            """The QueryUpdated/QueryFailed values of the Transition reaching this version."""
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                end = message.get("endVersion", {})
                if message["type"] == "Transition" and end == {
                    **end,
                    "querySet": query_set,
                    "identity": identity,
                }:
                    return {
                        m["queryId"]: m.get("value", m.get("errorMessage"))
                        for m in message["modifications"]
                    }

        args = {"table": "notes", "paginationOpts": {"numItems": 100, "cursor": None}}
        add = {"type": "Add", "queryId": 1, "udfPath": "_system/cli/tableData", "args": [args]}
        modify = {
            "type": "ModifyQuerySet",
            "baseVersion": 0,
            "newVersion": 1,
            "modifications": [add],
        }
        await ws.send(json.dumps(modify))
        assert "Could not find public function" in (await results(1, 0))[1]
        key = server.app.state.runtime.auth.admin_key
        await ws.send(
            json.dumps(
                {"type": "Authenticate", "tokenType": "Admin", "value": key, "baseVersion": 0}
            )
        )
        value = wire.decode((await results(1, 1))[1])
        assert len(value["page"]) == len(server.docs) and value["isDone"] is True
    finally:
        await ws.close()


@pytest.mark.timeout(120)
async def test_npx_convex_data_reads_an_imported_table(tmp_path):
    """Convex's own CLI (`npx convex data`) lists the tables and a table's documents."""
    node = shutil.which("node")
    if node is None:
        require_service("Node.js", "node is not on PATH")
    cli = JS / "node_modules" / "convex" / "bin" / "main.js"
    if not cli.exists():
        require_service("the convex npm package", f"run `npm ci` in {JS}")
    url = f"sqlite:///{tmp_path}/cli.db"
    docs = await _imported(url, tmp_path, n=4)
    project = tmp_path / "project"  # what the CLI expects to run in
    (project / "convex").mkdir(parents=True)
    (project / "package.json").write_text('{"name": "p", "version": "0.0.0"}')
    app = create_app(url, None, ServerSettings(admin_key="a-key-for-the-cli"))
    async with RunningServer(app) as server:
        env = {
            **os.environ,
            "CONVEX_SELF_HOSTED_URL": server.url,
            "CONVEX_SELF_HOSTED_ADMIN_KEY": "a-key-for-the-cli",
        }

        async def convex(*args):
            proc = await asyncio.create_subprocess_exec(
                node,
                str(cli),
                *args,
                cwd=project,
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(proc.communicate(), 90)
            assert proc.returncode == 0, output.decode()
            return output.decode()

        assert (await convex("data")).split() == ["notes"]
        lines = (await convex("data", "notes", "--limit", "2", "--format", "jsonl")).splitlines()
    # each a document as Convex prints values (an Int64 as `3n`, so not JSON)
    found = [re.search(r'"_id": ?"(\w+)"', line) for line in lines if line.startswith("{")]
    assert [m and m.group(1) for m in found] == [docs[-1]["_id"], docs[-2]["_id"]]
    assert all(f'"n": {d["n"]}n' in line for d, line in zip(docs[:-3:-1], lines, strict=False))
