"""``smalltown bench brain``: how well the offline brain listens, and how fast it answers.

A newcomer says the held-out lines of ``tests/llm/held_out/newcomer_talk.txt`` to each
default resident, one conversation per block, and the resident replies through the offline brain
(``--script tests/llm/dev/newcomer_talk.txt``: the development lines, which tuning may use).
Figures: **relevance**, the MiniLM cosine similarity of each reply to the line it answers
(mean, and the share above 0.3); **repeats**, lines said twice within a conversation;
**seams**, template slips the checker (``llm/offline_seams.py``) finds; and **ms per
reply**. Long talks between residents (``--long`` lines each) add to the repeats and
seams. ``--baseline REF`` runs the brain of that git commit beside today's, for the
before-and-after figure (its ``offline.py`` is read with ``git show``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import platform
import subprocess
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smalltown.llm.base import Embedder, Persona
from smalltown.llm.hashed_embeddings import HashedEmbedder
from smalltown.llm.minilm import MiniLMEmbedder
from smalltown.llm.offline import OfflineBrain
from smalltown.llm.offline_seams import seams
from smalltown.town.defaults import CHARACTERS

SCRIPT = Path(__file__).resolve().parents[3] / "tests/llm/held_out/newcomer_talk.txt"
NEWCOMER: Persona = {"name": "Newbie", "description": "", "identity": "", "plan": ""}
RELEVANT = 0.3  # a reply this close to the line is on its topic (see docs/benchmarks.md)


def conversations(path: Path = SCRIPT) -> list[list[str]]:
    """The script's blocks of lines (``#`` lines are comments)."""
    blocks: list[list[str]] = [[]]
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def residents() -> list[Persona]:
    return [
        {"name": c["name"], "description": "", "identity": c["identity"], "plan": c["plan"]}
        for c in CHARACTERS
    ]


@dataclass
class Figures:
    """What one brain did over the script."""

    relevance: list[float] = field(default_factory=list)
    repeats: int = 0
    conversations: int = 0
    seams: list[tuple[str, str]] = field(default_factory=list)  # (rule, line)
    lines: int = 0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)  # seconds per line
    samples: list[tuple[str, str, float]] = field(default_factory=list)  # (heard, reply, cosine)


async def _say(brain: Any, *args: Any, embedder: Embedder | None) -> str:
    """One line from ``brain``: today's composer is async and takes an embedder; an older
    one (a baseline) may be neither."""
    if "embedder" in inspect.signature(brain.compose).parameters:
        made = brain.compose(*args, embedder=embedder)
    else:
        made = brain.compose(*args)
    return str(await made) if inspect.isawaitable(made) else str(made)


async def _line(
    brain: Any, figures: Figures, embedder: Embedder | None, *args: Any
) -> tuple[str, float]:
    started = time.perf_counter()
    text = await _say(brain, *args, embedder=embedder)
    elapsed = time.perf_counter() - started
    figures.lines += 1
    figures.seconds += elapsed
    figures.times.append(elapsed)
    figures.seams.extend((rule, text) for rule in seams(text))
    return text, elapsed


def _repeats(transcript: Sequence[tuple[str, str]]) -> int:
    texts = [text for _, text in transcript]
    return len(texts) - len(set(texts))


async def measure(
    brain: Any,
    judge: MiniLMEmbedder,
    embedder: Embedder | None,
    script: Sequence[Sequence[str]],
    long: int = 40,
    seed: str = "bench",
) -> Figures:
    """Run the script and the long talks through ``brain``; ``judge`` scores relevance."""
    figures = Figures()
    for speaker in residents():
        for n, block in enumerate(script):
            transcript: list[tuple[str, str]] = []
            args = ("start", speaker, NEWCOMER, transcript, f"{seed}:{n}:0")
            text, _ = await _line(brain, figures, embedder, *args)
            transcript.append((speaker["name"], text))
            for i, heard in enumerate(block):
                transcript.append(("Newbie", heard))
                args = ("continue", speaker, NEWCOMER, list(transcript), f"{seed}:{n}:{i + 1}")
                text, _ = await _line(brain, figures, embedder, *args)
                transcript.append((speaker["name"], text))
                (asked, said) = await judge.embed([heard, text])
                figures.relevance.append(sum(a * b for a, b in zip(asked, said, strict=True)))
                figures.samples.append(
                    (f"{speaker['name']} ← {heard}", text, figures.relevance[-1])
                )
            figures.repeats += _repeats(transcript)
            figures.conversations += 1
    people = residents()
    for n, (first, second) in enumerate((a, b) for a in people for b in people if a is not b):
        transcript = []
        for i in range(long):
            me, other = (first, second) if i % 2 == 0 else (second, first)
            kind = "start" if i == 0 else "leave" if i == long - 1 else "continue"
            args = (kind, me, other, list(transcript), f"{seed}:long:{n}:{i}")
            text, _ = await _line(brain, figures, embedder, *args)
            transcript.append((me["name"], text))
        figures.repeats += _repeats(transcript)
        figures.conversations += 1
    return figures


def brain_at(ref: str) -> Any:
    """The offline brain of git commit ``ref``, loaded from its source beside today's."""
    root = Path(__file__).resolve().parents[3]
    source = subprocess.run(
        ["git", "show", f"{ref}:src/smalltown/llm/offline.py"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = types.ModuleType(f"smalltown_offline_at_{ref}")
    exec(compile(source, f"{ref}:offline.py", "exec"), module.__dict__)  # our own code, past
    return module.OfflineBrain()


def _row(name: str, values: Sequence[str]) -> str:
    return "| " + " | ".join([name, *values]) + " |"


async def _run(
    script_path: Path, baseline: str | None, long: int, show: int, out: Callable[[str], None]
) -> dict[str, Figures]:
    script = conversations(script_path)
    judge = MiniLMEmbedder()
    await judge.ready()
    brains: dict[str, tuple[Any, Embedder | None]] = {}
    if baseline:
        brains[f"brain at {baseline}"] = (brain_at(baseline), None)
    brains["today's brain, MiniLM"] = (OfflineBrain(), judge)
    brains["today's brain, hashed (words)"] = (OfflineBrain(), HashedEmbedder())
    lines = sum(len(b) for b in script)
    out(
        f"smalltown bench brain: {len(script)} conversations, {lines} held-out lines, "
        f"to each of {len(residents())} residents; long talks of {long} lines"
    )
    out(f"machine: {platform.machine()}, python {platform.python_version()}, {os.cpu_count()} cpus")
    results = {name: await measure(b, judge, e, script, long) for name, (b, e) in brains.items()}
    out("")
    out(_row("figure", list(results)))
    out(_row("---", ["---"] * len(results)))
    figs = list(results.values())
    out(_row("relevance, mean cosine", [f"{_mean(f.relevance):.3f}" for f in figs]))
    out(
        _row(
            f"replies on topic (cosine ≥ {RELEVANT})",
            [f"{_share(f.relevance, RELEVANT):.0%}" for f in figs],
        )
    )
    out(_row("repeats per conversation", [f"{f.repeats / f.conversations:.2f}" for f in figs]))
    out(_row("seams, all lines", [f"{len(f.seams)} in {f.lines:,}" for f in figs]))
    out(_row("ms per reply, mean", [f"{1000 * f.seconds / f.lines:.2f}" for f in figs]))
    out(_row("ms per reply, p50 / p95", [f"{_ms(f.times, 50)} / {_ms(f.times, 95)}" for f in figs]))
    for name, f in results.items():
        if f.seams:
            rules = Counter(rule for rule, _ in f.seams)
            out(f"\n{name}, seams by rule: " + ", ".join(f"{r} {n}" for r, n in rules.items()))
            out(f"{name}, seams found (first 5):")
            for rule, line in f.seams[:5]:
                out(f"  {rule}: {line}")
        for heard, reply, cosine in f.samples[:show]:
            out(f"  [{name}] {heard}\n      → {reply}  ({cosine:.2f})")
    return results


def _ms(times: Sequence[float], percent: int) -> str:
    ordered = sorted(times)
    return f"{1000 * ordered[min(len(ordered) - 1, len(ordered) * percent // 100)]:.2f}"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _share(values: Sequence[float], threshold: float) -> float:
    return sum(v >= threshold for v in values) / len(values) if values else 0.0


def run(
    script: Path = SCRIPT,
    baseline: str | None = None,
    long: int = 40,
    show: int = 0,
    out: Callable[[str], None] = print,
) -> dict[str, Figures]:
    if not script.is_file():
        sys.exit(f"no script at {script}: run from a checkout, or pass --script")
    return asyncio.run(_run(script, baseline, long, show, out))
