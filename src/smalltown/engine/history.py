"""Where players were at each tick of a step, packed the way AI Town's page reads it.

AI Town's page draws a walker from ``world.historicalLocations``: per player, the step's
tick-by-tick changes of ``x, y, dx, dy, speed``, which it plays back about one step behind
the engine, so motion is smooth between the once-a-second updates. The packed layout is a
fact of its page (its ``historicalObject``), written here from that description:

- 4 bytes: xxHash32 (seed 0), little-endian, of the field list packed as ``[1]``, then per
  field its name's length, its UTF-8 name and its precision (bits after the point);
- then per field that changed, in the list's order: a byte (field number, plus 16 when the
  values are run-length encoded), the first change's time (u64 LE, whole ms), the other
  times (delta from the first, run-length encoded, zigzag varints) after their length
  (u16 LE), and the values (quantised to ``floor(v * 2**precision)``, the value at the
  step's start first, delta encoded, run-length encoded only when that is shorter, zigzag
  varints) after their length (u16 LE).

A value holds from its sample's time until the next; a field that did not change in the
step is left out, and a player none of whose fields changed gets no entry.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

from smalltown.engine.state import Player

#: (name, precision): AI Town's location fields, in its order
FIELDS: tuple[tuple[str, int], ...] = (("x", 8), ("y", 8), ("dx", 8), ("dy", 8), ("speed", 16))
VERSION = 1


def location(player: Player) -> tuple[float, float, float, float, float]:
    return (
        player.position.x,
        player.position.y,
        player.facing.dx,
        player.facing.dy,
        player.speed,
    )


class LocationHistory:
    """Records players' locations through one step; ``pack`` gives each changed one's
    history. Every change is recorded, from where each player stood as the step began, as
    AI Town records them: its page keeps a field's last history until a newer one arrives,
    so a change left out (a turn to face a partner, a stop, a walk's first tick) would
    stay wrong there, and mixed with another field's newer history could make a facing
    no vector at all. Walkers are recorded each tick, those in conversations when
    conversations and agents have had their turn."""

    def __init__(self, players: Iterable[Player]) -> None:
        self._initial = {p.id: location(p) for p in players}
        self._last = dict(self._initial)
        # player -> field number -> [(time, value)]
        self._samples: dict[str, dict[int, list[tuple[float, float]]]] = {}

    def record(self, now: float, players: Iterable[Player]) -> None:
        """Note, at tick time ``now``, how these players' locations changed."""
        for player in players:
            current = location(player)
            last = self._last.get(player.id)
            if last is None:  # arrived during the step: followed from here
                self._initial[player.id] = self._last[player.id] = current
                continue
            if current == last:
                continue
            fields = self._samples.setdefault(player.id, {})
            for n, (value, before) in enumerate(zip(current, last, strict=True)):
                if value != before:
                    samples = fields.setdefault(n, [])
                    if samples and samples[-1][0] == now:
                        samples[-1] = (now, value)
                    else:
                        samples.append((now, value))
            self._last[player.id] = current

    def pack(self) -> dict[str, bytes]:
        """Each player with changes, its packed history."""
        return {
            player_id: pack_history(self._initial[player_id], fields)
            for player_id, fields in self._samples.items()
            if fields
        }


def pack_history(initial: tuple[float, ...], fields: dict[int, list[tuple[float, float]]]) -> bytes:
    out = bytearray(struct.pack("<I", CONFIG_HASH))
    for number, (_, precision) in enumerate(FIELDS):
        samples = fields.get(number)
        if not samples:
            continue
        times = [math.floor(t) for t, _ in samples]
        packed_times = varints(run_length(deltas(times[1:], times[0])))
        quantised = [
            math.floor(v * (1 << precision)) for v in (initial[number], *(v for _, v in samples))
        ]
        delta = deltas(quantised)
        rle = run_length(delta)
        use_rle = len(rle) < len(delta)
        packed_values = varints(rle if use_rle else delta)
        if len(packed_times) >= 1 << 16 or len(packed_values) >= 1 << 16:
            raise ValueError("a step's location history is too long to pack")
        out.append(number | (16 if use_rle else 0))
        out += struct.pack("<QH", times[0], len(packed_times)) + packed_times
        out += struct.pack("<H", len(packed_values)) + packed_values
    return bytes(out)


def deltas(values: list[int], start: int = 0) -> list[int]:
    out, previous = [], start
    for value in values:
        out.append(value - previous)
        previous = value
    return out


def run_length(values: list[int]) -> list[int]:
    """``[value, count, value, count, ...]``."""
    out: list[int] = []
    for value in values:
        if out and out[-2] == value:
            out[-1] += 1
        else:
            out += [value, 1]
    return out


def varints(values: list[int]) -> bytes:
    """Zigzag then little-endian base-128, at most five bytes each (32-bit values)."""
    out = bytearray()
    for value in values:
        if not -(1 << 31) <= value < 1 << 31:
            raise ValueError(f"{value} does not fit 32 bits")
        v = ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF
        while v >= 0x80:
            out.append((v & 0x7F) | 0x80)
            v >>= 7
        out.append(v)
    return bytes(out)


def xxhash32(data: bytes, seed: int = 0) -> int:
    """xxHash32, the public algorithm."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    mask = 0xFFFFFFFF

    def rotl(x: int, r: int) -> int:
        return ((x << r) | (x >> (32 - r))) & mask

    def round_(acc: int, lane: int) -> int:
        return (rotl((acc + lane * p2) & mask, 13) * p1) & mask

    n, i = len(data), 0
    if n >= 16:
        v = [(seed + p1 + p2) & mask, (seed + p2) & mask, seed & mask, (seed - p1) & mask]
        while i + 16 <= n:
            for k in range(4):
                v[k] = round_(v[k], int.from_bytes(data[i + 4 * k : i + 4 * k + 4], "little"))
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & mask
    else:
        h = (seed + p5) & mask
    h = (h + n) & mask
    while i + 4 <= n:
        h = (rotl((h + int.from_bytes(data[i : i + 4], "little") * p3) & mask, 17) * p4) & mask
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & mask, 11) * p1) & mask
        i += 1
    h ^= h >> 15
    h = (h * p2) & mask
    h ^= h >> 13
    h = (h * p3) & mask
    h ^= h >> 16
    return h


def _config() -> bytes:
    out = bytearray([VERSION])
    for name, precision in FIELDS:
        out += bytes([len(name)]) + name.encode() + bytes([precision])
    return bytes(out)


CONFIG_HASH = xxhash32(_config())
