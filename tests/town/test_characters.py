"""The looks a person may choose when joining, as the page asks the server for them."""

import httpx

from smalltown.server import create_app
from smalltown.town.defaults import CHARACTERS

from helpers import RunningServer


async def test_the_choosable_looks_are_the_residents_sprites_with_their_labels(tmp_path):
    app = create_app(f"sqlite:///{tmp_path}/looks.db", "smalltown.town")
    async with RunningServer(app) as server, httpx.AsyncClient(base_url=server.url) as http:
        reply = await http.post("/api/query", json={"path": "characters:choosable", "args": {}})
    body = reply.json()
    assert body["status"] == "success", body
    assert body["value"] == [
        {"character": "f1", "label": "blue"},
        {"character": "f2", "label": "baker"},
        {"character": "f3", "label": "green"},
        {"character": "f4", "label": "red"},
        {"character": "f5", "label": "yellow"},
    ]
    assert [look["character"] for look in body["value"]] == [c["character"] for c in CHARACTERS]
