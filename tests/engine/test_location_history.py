"""The per-step location history AI Town's page plays back, in the layout its page reads.

The layout is written down here as facts and read back by a decoder of our own: a field
list's hash, then per changed field a header byte, the first sample's time, run-length
and delta encoded zigzag varints for times, and quantised values.
"""

import itertools
import math
import struct

from test_engine import Sim

from smalltown.engine.engine import step
from smalltown.engine.geometry import Point
from smalltown.engine.history import CONFIG_HASH, xxhash32
from smalltown.engine.movement import walk_to

#: AI Town's location fields and their precisions, in its order (facts of its page)
FIELDS = [("x", 8), ("y", 8), ("dx", 8), ("dy", 8), ("speed", 16)]


def unvarints(data: bytes) -> list[int]:
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            out.append((value >> 1) ^ -(value & 1))
            value, shift = 0, 0
    assert shift == 0, "a varint was cut short"
    return out


def unrun(values: list[int]) -> list[int]:
    assert len(values) % 2 == 0
    return [v for i in range(0, len(values), 2) for v in [values[i]] * values[i + 1]]


def undelta(values: list[int], start: int = 0) -> list[int]:
    out = []
    for v in values:
        start += v
        out.append(start)
    return out


def unpack(data: bytes) -> dict[str, tuple[float, list[tuple[int, float]]]]:
    """field -> (value at the step's start, [(time, value)])."""
    (hashed,) = struct.unpack_from("<I", data)
    config = bytes([1]) + b"".join(bytes([len(n)]) + n.encode() + bytes([p]) for n, p in FIELDS)
    assert hashed == xxhash32(config)
    pos, out = 4, {}
    while pos < len(data):
        header = data[pos]
        name, precision = FIELDS[header & 15]
        first, length = struct.unpack_from("<QH", data, pos + 1)
        pos += 11
        times = [first, *undelta(unrun(unvarints(data[pos : pos + length])), first)]
        pos += length
        (length,) = struct.unpack_from("<H", data, pos)
        pos += 2
        encoded = unvarints(data[pos : pos + length])
        pos += length
        values = undelta(unrun(encoded) if header & 16 else encoded)
        assert len(values) == len(times) + 1
        scale = 1 / (1 << precision)
        samples = [(t, v * scale) for t, v in zip(times, values[1:], strict=True)]
        out[name] = (values[0] * scale, samples)
    return out


def test_xxhash32_is_the_public_algorithm():
    assert xxhash32(b"") == 0x02CC5D05
    assert xxhash32(b"abc") == 0x32D153FF
    assert xxhash32(b"Nobody inspects the spammish repetition") == 0xE2293B2F
    assert (
        xxhash32(
            bytes([1, 1])
            + b"x\x08"
            + bytes([1])
            + b"y\x08"
            + bytes([2])
            + b"dx\x08"
            + bytes([2])
            + b"dy\x08"
            + bytes([5])
            + b"speed\x10"
        )
        == CONFIG_HASH
    )


def test_a_walkers_step_is_packed_tick_by_tick_and_reads_back():
    sim = Sim()
    player_id = sim.ok("join", {"tokenIdentifier": "ada"})
    player = sim.world.players[player_id]
    start = (player.position.x, player.position.y)
    target = Point(start[0] + 5, start[1]) if start[0] < 10 else Point(start[0] - 5, start[1])
    walk_to(player, target, sim.now)
    before = sim.now
    step(sim.world, sim.map, [], sim.now, seed=1, step_number=sim.steps)
    history = unpack(sim.world.historical_locations[player_id])
    x0, xs = history["x"]
    assert abs(x0 - start[0]) < 1 / 256
    times = [t for t, _ in xs]
    assert times == sorted(times) and before <= times[0] and times[-1] <= before + 1000
    # a sample (nearly) every 16 ms tick, each within a tick's walk of the one before
    assert len(xs) >= 55
    steps = [abs(b - a) for (_, a), (_, b) in itertools.pairwise(xs)]
    assert max(steps) <= 0.75 * 0.016 + 2 / 256
    assert abs(xs[-1][1] - player.position.x) < 1 / 256
    assert history["speed"][1][0][1] == 0.75
    document = sim.world.to_document()
    assert document["historicalLocations"] == [
        {"playerId": player_id, "location": sim.world.historical_locations[player_id]}
    ]


def test_players_standing_still_have_no_history():
    sim = Sim()
    sim.ok("join", {"tokenIdentifier": "ada"})
    sim.run(steps=2)
    assert sim.world.historical_locations == {}
    assert "historicalLocations" not in sim.world.to_document()


def test_the_engine_bench_sizes_a_document_with_its_history():
    """The bench measures the world document as it is stored and sent, bytes and all."""
    from smalltown.bench.engine_bench import run_world

    figures = run_world(agents=5, minutes=1.5)  # past the first activities: some walk
    assert figures["world_document_bytes"] > 1000


def finish_message(op):
    """The input that answers a generateMessage operation, as the LLM side sends it."""
    keys = ("agentId", "conversationId", "messageUuid")
    args = {k: op.args[k] for k in keys} | {"operationId": op.operation_id}
    return "agentFinishMessage", args | {"leave": op.args["kind"] == "leave"}


class PageReplay:
    """What AI Town's page draws from a world document, by its rules (facts of its page):
    each field of a player's location is the latest sample at or before the time asked of
    the histories received so far (a field keeps its last history until a newer one
    comes), else the document's value."""

    def __init__(self) -> None:
        self.histories: dict[str, dict[str, list[tuple[float, list]]]] = {}

    def receive(self, world: dict) -> None:
        for entry in world.get("historicalLocations", []):
            fields = self.histories.setdefault(entry["playerId"], {})
            for name, history in unpack(entry["location"]).items():
                fields.setdefault(name, []).append(history)

    def location(self, player: dict, time: float) -> dict[str, float]:
        shown = {
            "x": player["position"]["x"],
            "y": player["position"]["y"],
            "dx": player["facing"]["dx"],
            "dy": player["facing"]["dy"],
            "speed": player["speed"],
        }
        for name, histories in self.histories.get(player["id"], {}).items():
            value = histories[0][0]
            for _, samples in histories:
                for at, sample in samples:
                    if at <= time:
                        value = sample
            shown[name] = value
        return shown


def test_a_page_playing_the_histories_back_shows_everyone_where_the_world_has_them():
    """Residents wander, meet, turn to face each other and stop, one in the middle of a
    walk; at the end of every step the page's picture (the histories over the document)
    is the world's, facing a unit vector throughout."""
    sim = Sim(seed=5)
    for _ in range(5):
        sim.ok("createAgent", {})
    page = PageReplay()
    turned = 0
    for _ in range(240):
        answers = [o for o in sim.operations if o.name == "generateMessage"]
        sim.operations = [o for o in sim.operations if o not in answers]
        facings = {p.id: p.facing for p in sim.world.players.values()}
        sim.run(*(finish_message(op) for op in answers))  # each step's document is seen
        document = sim.world.to_document()
        page.receive(document)
        for player in document["players"]:
            shown = page.location(player, sim.now)
            for name, value in shown.items():
                precision = 16 if name == "speed" else 8
                doc_value = {
                    "x": player["position"]["x"],
                    "y": player["position"]["y"],
                    "dx": player["facing"]["dx"],
                    "dy": player["facing"]["dy"],
                    "speed": player["speed"],
                }[name]
                assert abs(value - doc_value) <= 1 / (1 << precision), (player["id"], name)
            assert abs(math.hypot(shown["dx"], shown["dy"]) - 1) < 0.02, player
            facing = facings.get(player["id"])
            moving = player.get("pathfinding") is not None
            if facing and not moving and facing != sim.world.players[player["id"]].facing:
                turned += 1  # turned without walking: to face someone
    assert sim.archived and turned > 0  # conversations happened, and turned people


def test_a_walk_from_between_tiles_faces_unit_directions():
    """A player standing off the grid (where a conversation left them) sets off on a
    slanting first leg: its facing is still a unit vector, as AI Town's page needs."""
    sim = Sim()
    ada = sim.ok("join", {"tokenIdentifier": "ada"})
    sim.place(ada, 4, 4)
    sim.world.players[ada].position = Point(4.3, 4.6)
    walk_to(sim.world.players[ada], Point(9, 8), sim.now)
    sim.run()
    player = sim.world.players[ada]
    path = player.pathfinding.path
    assert (path[0][2], path[0][3]) not in ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))  # slanting
    for x, y, dx, dy, _ in path:
        assert abs(math.hypot(dx, dy) - 1) < 1e-9, (x, y, dx, dy)
    assert abs(math.hypot(player.facing.dx, player.facing.dy) - 1) < 1e-9
