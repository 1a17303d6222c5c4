"""``smalltown bench store|import|engine|writes|agents|town|realtime|bandwidth|brain``:
measurements that print the figures of docs/benchmarks.md; each runs the matching module of
``smalltown.bench``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from smalltown.config import Settings

NAME = "bench"


def add_parser(sub: argparse._SubParsersAction, settings: Settings) -> None:
    bench = sub.add_parser(NAME, help="measure; prints figures for docs/benchmarks.md")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    store = bench_sub.add_parser("store", help="store throughput and latency")
    store.add_argument("--database", default=settings.database_url, help="a scratch database URL")
    store.add_argument(
        "--vectors",
        default="10000,100000",
        help="comma-separated vector counts to search at (default 10000,100000)",
    )
    store.add_argument("--dims", type=int, default=1024)
    store.add_argument("--searches", type=int, default=200)
    store.add_argument(
        "--reuse-vectors",
        action="store_true",
        help="keep vectors a previous run loaded (when there are no more than needed)",
    )
    bench_import = bench_sub.add_parser(
        "import", help="import documents/s and peak memory, on a synthetic snapshot"
    )
    bench_import.add_argument(
        "--database",
        action="append",
        default=[],
        help="a scratch database URL (repeatable; default a temporary SQLite file)",
    )
    bench_import.add_argument("--docs", type=int, default=100_000, help="documents in all")
    bench_import.add_argument(
        "--vectors", type=int, default=None, help="of them, embeddings (default a tenth)"
    )
    bench_import.add_argument("--dims", type=int, default=1024)
    engine = bench_sub.add_parser("engine", help="world step CPU with many agents, no LLM")
    engine.add_argument("--agents", default="25,100,500,1000", help="comma-separated counts")
    engine.add_argument("--minutes", type=float, default=1.0, help="simulated minutes each")
    writes = bench_sub.add_parser("writes", help="bytes a world step writes to the database")
    writes.add_argument("--agents", default="25,100,1000", help="comma-separated counts")
    writes.add_argument("--steps", type=int, default=60, help="steps measured at each count")
    writes.add_argument("--database", default=None, help="default: a temporary SQLite file")
    agents = bench_sub.add_parser(
        "agents", help="agents talking through a fake LLM with a fixed latency and K slots"
    )
    agents.add_argument("--agents", type=int, default=25)
    agents.add_argument("--concurrency", type=int, default=8, help="LLM calls in flight (K)")
    agents.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    agents.add_argument("--minutes", type=float, default=3.0, help="wall-clock minutes measured")
    agents.add_argument("--time-scale", type=float, default=4.0, help="game time per wall time")
    agents.add_argument("--database", default=None, help="default: a temporary SQLite file")
    town = bench_sub.add_parser(
        "town",
        help="web, runner and worker processes on PostgreSQL and Redis: do steps keep time?",
    )
    town.add_argument("--agents", type=_positive, default=1000)
    town.add_argument("--slots", type=_positive, default=64, help="LLM slots across workers (K)")
    town.add_argument("--web", type=_count, default=1, help="web processes (0: no page)")
    town.add_argument("--runners", type=_positive, default=1, help="runner processes")
    town.add_argument("--workers", type=_positive, default=2, help="worker processes")
    town.add_argument("--latency", type=_at_least(0), default=1.0, help="seconds per LLM call")
    town.add_argument(
        "--minutes", type=_at_least(0.05), default=3.0, help="wall-clock minutes measured"
    )
    town.add_argument(
        "--warmup", type=_at_least(0), default=60.0, help="seconds after every agent arrived"
    )
    town.add_argument(
        "--database",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server (any database of it): a scratch database is made there "
        "for the run and dropped after it",
    )
    town.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="a Redis for them")
    town.add_argument(
        "--nice",
        type=_nice,
        default={},
        help="CPU priorities: N for every process, or ROLE=N,... (web, runner, worker, "
        "bench); below a process's own (a worker's is 10) takes root",
    )
    realtime = bench_sub.add_parser("realtime", help="live-query fan-out latency")
    realtime.add_argument("--subscribers", type=int, default=1000)
    realtime.add_argument("--rate", type=float, default=10.0, help="mutations a second")
    realtime.add_argument("--seconds", type=float, default=20.0)
    realtime.add_argument("--database", default=None, help="default: a temporary SQLite file")
    realtime.add_argument("--client-processes", type=int, default=2)
    realtime.add_argument(
        "--redis", default=None, help="two servers sharing the database through this Redis"
    )
    bandwidth = bench_sub.add_parser("bandwidth", help="bytes a page viewing a world downloads")
    bandwidth.add_argument("--agents", type=int, default=25)
    bandwidth.add_argument("--minutes", type=float, default=5.0, help="simulated minutes")
    bandwidth.add_argument("--seconds", type=float, default=60.0, help="seconds on the wire")
    bandwidth.add_argument(
        "--no-wire", action="store_true", help="only the simulation, no server and sockets"
    )
    bandwidth.add_argument(
        "--no-browser", action="store_true", help="no frame rate from headless Chromium"
    )
    brain = bench_sub.add_parser(
        "brain", help="offline brain: relevance of replies, repeats, seams, ms per reply"
    )
    brain.add_argument("--script", default=None, help="held-out lines (default: the repo's)")
    brain.add_argument("--baseline", default=None, help="a git commit whose brain to run too")
    brain.add_argument("--long", type=int, default=40, help="lines in each residents' talk")
    brain.add_argument("--show", type=int, default=0, help="print this many replies per brain")


def handle(args: argparse.Namespace, settings: Settings) -> int:
    return BENCHES[args.bench](args) or 0


def _count(text: str) -> int:
    """A whole number of 0 or more, or a clear error."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    """A whole number above 0, or a clear error."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return int(text)


def _at_least(low: float) -> Callable[[str], float]:
    """A number of ``low`` or more, or a clear error."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value >= low:  # (NaN too)
            raise argparse.ArgumentTypeError(f"must be a number of {low:g} or more, got {text!r}")
        return value

    return parse


def _nice(text: str) -> dict[str, int]:
    """``--nice``, checked by the bench's own rule."""
    from smalltown.bench.town_processes import parse_nice

    try:
        return parse_nice(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None


def _counts(text: str) -> list[int]:
    """``25,100,500`` as numbers."""
    return [int(c) for c in text.split(",") if c.strip()]


def _store(args: argparse.Namespace) -> None:
    from smalltown.bench import store_bench

    asyncio.run(
        store_bench.run(
            args.database,
            _counts(args.vectors),
            args.dims,
            args.searches,
            reuse_vectors=args.reuse_vectors,
        )
    )


def _import(args: argparse.Namespace) -> None:
    from smalltown.bench import import_bench

    import_bench.run(args.database, args.docs, args.vectors, args.dims)


def _engine(args: argparse.Namespace) -> None:
    from smalltown.bench import engine_bench

    engine_bench.run(_counts(args.agents), args.minutes)


def _writes(args: argparse.Namespace) -> None:
    from smalltown.bench import writes_bench

    writes_bench.run(_counts(args.agents), args.steps, args.database)


def _agents(args: argparse.Namespace) -> None:
    from smalltown.bench import agents_bench

    agents_bench.run(
        agents=args.agents,
        concurrency=args.concurrency,
        latency=args.latency,
        minutes=args.minutes,
        time_scale=args.time_scale,
        database=args.database,
    )


def _town(args: argparse.Namespace) -> int:
    """The town's figures; a bench that cannot run is one line and exit status 1."""
    import sys

    from smalltown.bench import town_bench
    from smalltown.bench.scratch import ScratchDatabaseError
    from smalltown.bench.town_processes import TownBenchError

    try:
        town_bench.run(
            agents=args.agents,
            slots=args.slots,
            web=args.web,
            runners=args.runners,
            workers=args.workers,
            latency=args.latency,
            minutes=args.minutes,
            warmup=args.warmup,
            database=args.database,
            redis=args.redis,
            nice=args.nice,
        )
    except (TownBenchError, ScratchDatabaseError) as exc:
        print(f"smalltown bench town: {exc}", file=sys.stderr)
        return 1
    return 0


def _bandwidth(args: argparse.Namespace) -> None:
    from smalltown.bench import bandwidth_bench

    bandwidth_bench.run(
        args.agents, args.minutes, args.seconds, wire=not args.no_wire, browser=not args.no_browser
    )


def _realtime(args: argparse.Namespace) -> None:
    from smalltown.bench import realtime_bench

    asyncio.run(
        realtime_bench.run(
            args.subscribers,
            args.rate,
            args.seconds,
            args.database,
            client_processes=args.client_processes,
            redis=args.redis,
        )
    )


def _brain(args: argparse.Namespace) -> None:
    from pathlib import Path

    from smalltown.bench import brain_bench

    script = Path(args.script) if args.script else brain_bench.SCRIPT
    brain_bench.run(script, args.baseline, args.long, args.show)


#: ``smalltown bench NAME`` → what it runs
BENCHES: dict[str, Callable[[argparse.Namespace], int | None]] = {
    "store": _store,
    "import": _import,
    "engine": _engine,
    "writes": _writes,
    "agents": _agents,
    "town": _town,
    "realtime": _realtime,
    "bandwidth": _bandwidth,
    "brain": _brain,
}
