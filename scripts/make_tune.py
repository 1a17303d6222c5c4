#!/usr/bin/env python3
"""Compose the town's background tune as a WAV file, with no libraries.

Run from the repository root: python scripts/make_tune.py
Writes src/smalltown/town/assets/town-tune.wav: four bars of a plucked pentatonic
melody over a soft bass, 11,025 samples a second, 8 bits, mono, made to loop (it is what
``music:getBackgroundMusic`` answers, for AI Town's Music button).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "smalltown" / "town" / "assets"
RATE = 11_025
BEAT = 0.25  # seconds a note
#: the melody, as semitones above A3 (None: a rest), two notes a beat
MELODY = [
    [12, 16, 19, 16, 21, 19, 16, None],
    [14, 16, 19, 21, 24, 21, 19, 16],
    [12, 16, 19, 16, 21, 24, 21, None],
    [19, 16, 14, 12, 14, 16, 12, None],
]
BASS = [0, 7, 5, 0]  # a note a bar, semitones above A2


def frequency(semitones: float, base: float) -> float:
    return base * 2 ** (semitones / 12)


def tone(freq: float, seconds: float, volume: float, decay: float) -> list[float]:
    n = int(RATE * seconds)
    return [
        volume
        * math.exp(-decay * i / RATE)
        * (math.sin(2 * math.pi * freq * i / RATE) + 0.3 * math.sin(4 * math.pi * freq * i / RATE))
        for i in range(n)
    ]


def compose() -> list[float]:
    bar = int(RATE * BEAT * 8)
    out = [0.0] * (bar * len(MELODY))
    for b, notes in enumerate(MELODY):
        for k, note in enumerate(notes):
            if note is None:
                continue
            start = b * bar + int(RATE * BEAT * k)
            for i, v in enumerate(tone(frequency(note, 220.0), BEAT * 1.5, 0.35, 7.0)):
                if start + i < len(out):
                    out[start + i] += v
        for i, v in enumerate(tone(frequency(BASS[b], 110.0), BEAT * 8, 0.25, 1.5)):
            out[b * bar + i] += v
    return out


def wav(samples: list[float]) -> bytes:
    data = bytes(max(0, min(255, round(128 + 100 * s))) for s in samples)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(data),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,  # mono
        RATE,
        RATE,  # bytes a second
        1,  # block align
        8,  # bits a sample
        b"data",
        len(data),
    )
    return header + data


def main() -> None:
    (OUT / "town-tune.wav").write_bytes(wav(compose()))


if __name__ == "__main__":
    main()
