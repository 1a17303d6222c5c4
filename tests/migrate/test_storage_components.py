"""File storage and components in snapshots: imported apart from the app's tables, served
by id, and exported back so export → import → export gives the same entries."""

import base64
import hashlib
import json
import zipfile

import httpx
import pytest

from smalltown.migrate.export import export_zip
from smalltown.migrate.import_zip import SnapshotError, import_zip
from smalltown.runtime.runtime import with_system_tables
from smalltown.server import create_app
from smalltown.store import Schema, Table, encode_id, open_store
from smalltown.store.ids import new_internal_id

from helpers import RunningServer

SCHEMA = with_system_tables(Schema([Table("messages")]))
MESSAGES, STORAGE = 10004, 10020
CHAT_MESSAGES = 10004  # a component's numbers are its own: the same number as the app's
BIG = bytes(range(256)) * 1500  # 384,000 bytes: two chunks


def doc(number, i, **fields):
    return {"_id": encode_id(number, new_internal_id()), "_creationTime": 1.7e12 + i, **fields}


def line(d):
    return json.dumps(d, separators=(",", ":")) + "\n"


def stored_file(i, data, content_type):
    meta = doc(STORAGE, i, sha256=base64.b64encode(hashlib.sha256(data).digest()).decode())
    return {**meta, "size": len(data), "contentType": content_type}


def snapshot(path, files=None, corrupt=False):
    files = files or [(BIG, "image/png", ".png"), (b"hello", "text/plain", ""), (b"", None, "")]
    app = [doc(MESSAGES, i, text=f"m{i}") for i in range(3)]
    chat = [doc(CHAT_MESSAGES, i, body=f"c{i}", n=i, raw=b"\x01") for i in range(4)]
    inner = [doc(10001, 0, deep=True)]
    metas = [stored_file(i, data, ct) for i, (data, ct, _) in enumerate(files)]
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("_tables/documents.jsonl", line({"name": "messages", "id": MESSAGES}))
        z.writestr("messages/documents.jsonl", "".join(map(line, app)))
        z.writestr(
            "_components/chat/_tables/documents.jsonl",
            line({"name": "messages", "id": 10004}) + line({"name": "empty", "id": 10005}),
        )
        z.writestr(
            "_components/chat/messages/documents.jsonl", "".join(line(_export(d)) for d in chat)
        )
        z.writestr("_components/chat/empty/documents.jsonl", "")
        z.writestr(
            "_components/chat/_components/inner/_tables/documents.jsonl",
            line({"name": "things", "id": 10001}),
        )
        z.writestr(
            "_components/chat/_components/inner/things/documents.jsonl", "".join(map(line, inner))
        )
        z.writestr(
            "_storage/documents.jsonl",
            "".join(line({k: v for k, v in m.items() if v is not None}) for m in metas),
        )
        for meta, (data, _, ext) in zip(metas, files, strict=True):
            z.writestr(f"_storage/{meta['_id']}{ext}", data[:-1] if corrupt and data else data)
    return app, chat, metas


def _export(d):
    return {**d, "raw": {"$bytes": base64.b64encode(d["raw"]).decode()}}


@pytest.fixture
async def store(store_url):
    s = await open_store(store_url, SCHEMA)
    yield s
    await s.close()


async def test_components_and_files_import_apart_and_export_back_identically(store, tmp_path):
    app, chat, metas = snapshot(tmp_path / "in.zip")
    report = await import_zip(store, tmp_path / "in.zip")
    assert report.tables["messages"] == 3 and report.tables["_storage"] == 3 and report.files == 3
    assert report.tables["_components/chat/messages"] == 4
    # the app's table holds only the app's documents, though the component's ids share its number
    ids = {d["_id"] for d in await store.read(lambda tx: tx.query("messages"))}
    assert ids == {d["_id"] for d in app}

    await export_zip(store, tmp_path / "one.zip", include_storage=True)
    with zipfile.ZipFile(tmp_path / "one.zip") as z:
        names = set(z.namelist())
        assert "_components/chat/_components/inner/things/documents.jsonl" in names
        got = [
            json.loads(x) for x in z.read("_components/chat/messages/documents.jsonl").splitlines()
        ]
        assert got == [_export(d) for d in chat]
        assert z.read(f"_storage/{metas[0]['_id']}") == BIG
        assert z.read("_components/chat/empty/documents.jsonl") == b""

    copy = await open_store(f"sqlite:///{tmp_path}/copy.db", SCHEMA)
    try:
        await import_zip(copy, tmp_path / "one.zip")
        await export_zip(copy, tmp_path / "two.zip", include_storage=True)
    finally:
        await copy.close()
    with zipfile.ZipFile(tmp_path / "one.zip") as one, zipfile.ZipFile(tmp_path / "two.zip") as two:
        assert sorted(one.namelist()) == sorted(two.namelist())
        for name in one.namelist():
            assert one.read(name) == two.read(name), name


async def test_files_are_served_by_id(store, tmp_path):
    _, _, metas = snapshot(tmp_path / "in.zip")
    await import_zip(store, tmp_path / "in.zip")
    async with RunningServer(create_app(store)) as server, httpx.AsyncClient() as http:
        big = await http.get(f"{server.url}/api/storage/{metas[0]['_id']}")
        assert big.status_code == 200 and big.content == BIG
        assert big.headers["content-type"] == "image/png"
        small = await http.get(f"{server.url}/api/storage/{metas[1]['_id']}")
        assert small.content == b"hello" and small.headers["content-type"].startswith("text/plain")
        empty = await http.get(f"{server.url}/api/storage/{metas[2]['_id']}")
        assert empty.status_code == 200 and empty.content == b""
        for unknown in (
            encode_id(STORAGE, new_internal_id()),
            "not-an-id",
            encode_id(MESSAGES, new_internal_id()),
        ):
            missing = await http.get(f"{server.url}/api/storage/{unknown}")
            assert missing.status_code == 404
            assert missing.json()["code"] == "StorageFileNotFound"


async def test_a_file_that_does_not_match_its_metadata_writes_nothing(store, tmp_path):
    snapshot(tmp_path / "bad.zip", corrupt=True)
    with pytest.raises(
        SnapshotError, match=r"_storage/documents.jsonl line 1: file .* has 383999 bytes"
    ):
        await import_zip(store, tmp_path / "bad.zip")
    assert await store.read(lambda tx: tx.count("messages")) == 0
    assert await store.read(lambda tx: tx.count("_storage")) == 0


async def test_replace_clears_component_tables_instead_of_doubling_them(store, tmp_path):
    snapshot(tmp_path / "in.zip")
    await import_zip(store, tmp_path / "in.zip")
    await export_zip(store, tmp_path / "once.zip", include_storage=True)
    with pytest.raises(SnapshotError, match=r"_components/chat/messages \(1\)"):
        await import_zip(store, tmp_path / "in.zip")  # requireEmpty: they hold documents
    await import_zip(store, tmp_path / "in.zip", mode="replace")
    await export_zip(store, tmp_path / "twice.zip", include_storage=True)
    with (
        zipfile.ZipFile(tmp_path / "once.zip") as once,
        zipfile.ZipFile(tmp_path / "twice.zip") as twice,
    ):
        assert sorted(once.namelist()) == sorted(twice.namelist())
        for name in once.namelist():
            assert once.read(name) == twice.read(name), name
