"""The front door: ``smalltown`` serves; ``smalltown bench ...`` measures."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from dataclasses import replace

from smalltown import __version__
from smalltown.config import Settings

log = logging.getLogger("smalltown.cli")
PROGRESS_EVERY = 5.0  # seconds between an import's progress lines when not on a terminal


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smalltown", description=__doc__)
    parser.add_argument("--version", action="version", version=f"smalltown {__version__}")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the server (the default command)")
    run.add_argument("--database", default=settings.database_url, help="database URL")
    run.add_argument("--host", default=settings.host)
    run.add_argument("--port", type=int, default=settings.port)
    run.add_argument("--app", default=settings.app, help="package of functions to serve")

    worlds = sub.add_parser("worlds", help="list, create, stop and resume worlds")
    worlds.add_argument("action", choices=["list", "create", "stop", "resume"])
    worlds.add_argument("world_id", nargs="?", help="for stop and resume")
    worlds.add_argument("--database", default=settings.database_url, help="database URL")
    worlds.add_argument(
        "--agents", type=int, default=5, help="create: how many residents (default 5)"
    )

    memories = sub.add_parser(
        "memories",
        help="manage agents' memories: reembed (with the configured embedder) or reset",
    )
    memories.add_argument("action", choices=["reembed", "reset"])
    memories.add_argument("--database", default=settings.database_url, help="database URL")

    usage = sub.add_parser(
        "usage",
        help="each world's LLM calls, tokens, latency, estimated cost and budget (this hour "
        "and the last 24 h), read from the database",
    )
    usage.add_argument("--database", default=settings.database_url, help="database URL")
    usage.add_argument("--world", help="only this world")

    imp = sub.add_parser(
        "import", help="read a Convex snapshot ZIP, or one table's file, into the database"
    )
    imp.add_argument(
        "snapshot", help="the .zip `npx convex export` wrote, or with --table a .jsonl/.json/.csv"
    )
    imp.add_argument("--table", help="import FILE (.jsonl, .json or .csv) into this one table")
    imp.add_argument("--database", default=settings.database_url, help="database URL")
    imp.add_argument(
        "--mode",
        default="requireEmpty",
        choices=["requireEmpty", "append", "replace", "replaceAll"],
    )
    imp.add_argument(
        "--app",
        default=settings.app or "smalltown.town",
        help="the app whose tables receive the documents",
    )

    export = sub.add_parser("export", help="write a Convex snapshot ZIP")
    export.add_argument("out", help="the .zip to write")
    export.add_argument("--database", default=settings.database_url, help="database URL")
    export.add_argument(
        "--app", default=settings.app or "smalltown.town", help="the app whose tables to export"
    )
    export.add_argument(
        "--include-storage", action="store_true", help="also write stored files (_storage/)"
    )

    replay = sub.add_parser("replay", help="rebuild a world from its inputs and compare")
    replay.add_argument("world_id")
    replay.add_argument("--database", default=settings.database_url, help="database URL")

    bench = sub.add_parser("bench", help="measure; prints figures for docs/benchmarks.md")
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
    agents = bench_sub.add_parser(
        "agents", help="agents talking through a fake LLM with a fixed latency and K slots"
    )
    agents.add_argument("--agents", type=int, default=25)
    agents.add_argument("--concurrency", type=int, default=8, help="LLM calls in flight (K)")
    agents.add_argument("--latency", type=float, default=1.0, help="seconds per LLM call")
    agents.add_argument("--minutes", type=float, default=3.0, help="wall-clock minutes measured")
    agents.add_argument("--time-scale", type=float, default=4.0, help="game time per wall time")
    agents.add_argument("--database", default=None, help="default: a temporary SQLite file")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    command = args.command or "run"
    if command == "run":
        return _run(
            replace(
                settings,
                database_url=getattr(args, "database", settings.database_url),
                host=getattr(args, "host", settings.host),
                port=getattr(args, "port", settings.port),
                app=getattr(args, "app", settings.app),
            )
        )
    if command == "worlds":
        return asyncio.run(_worlds(args))
    if command == "replay":
        return asyncio.run(_replay(args))
    if command == "memories":
        return asyncio.run(_memories(args))
    if command == "usage":
        return asyncio.run(_usage(args))
    if command == "export":
        return asyncio.run(_export(args))
    if command == "import":
        try:
            return asyncio.run(_import(args))
        except KeyboardInterrupt:
            print(
                "\nsmalltown: import interrupted; what it wrote is kept, and the same "
                "command run again finishes it",
                file=sys.stderr,
            )
            return 130
    if command == "bench" and args.bench == "store":
        from smalltown.bench import store_bench

        counts = [int(c) for c in args.vectors.split(",") if c.strip()]
        asyncio.run(
            store_bench.run(
                args.database, counts, args.dims, args.searches, reuse_vectors=args.reuse_vectors
            )
        )
        return 0
    if command == "bench" and args.bench == "import":
        from smalltown.bench import import_bench

        import_bench.run(args.database, args.docs, args.vectors, args.dims)
        return 0
    if command == "bench" and args.bench == "engine":
        from smalltown.bench import engine_bench

        engine_bench.run([int(c) for c in args.agents.split(",") if c.strip()], args.minutes)
        return 0
    if command == "bench" and args.bench == "agents":
        from smalltown.bench import agents_bench

        agents_bench.run(
            agents=args.agents,
            concurrency=args.concurrency,
            latency=args.latency,
            minutes=args.minutes,
            time_scale=args.time_scale,
            database=args.database,
        )
        return 0
    if command == "bench" and args.bench == "bandwidth":
        from smalltown.bench import bandwidth_bench

        bandwidth_bench.run(args.agents, args.minutes, args.seconds, wire=not args.no_wire)
        return 0
    if command == "bench" and args.bench == "realtime":
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
        return 0
    return 2


async def _open_town_store(database: str):
    """The town's store, or None after saying why it cannot be opened."""
    from smalltown.store import StoreError
    from smalltown.town.schema import open_town_store

    try:
        return await open_town_store(database)
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return None


async def _worlds(args: argparse.Namespace) -> int:
    from smalltown.town.defaults import many_characters, town_map
    from smalltown.worlds import admin

    if (store := await _open_town_store(args.database)) is None:
        return 1
    try:
        if args.action == "list":
            worlds = await admin.list_worlds(store)
            if not worlds:
                print("no worlds yet: `smalltown run` creates the default one")
            for w in worlds:
                flag = " (default)" if w["default"] else ""
                runner = f", stepped by {w['runner']}" if w["runner"] else ""
                print(
                    f"{w['worldId']}  {w['status']:<18} {w['agents']} agents, "
                    f"{w['humans']} humans{flag}{runner}"
                )
        elif args.action == "create":
            try:
                print(await admin.create(store, town_map(), many_characters(args.agents)))
            except ValueError as exc:
                print(f"smalltown: {exc}", file=sys.stderr)
                return 2
        else:
            if not args.world_id:
                print(f"smalltown: worlds {args.action} needs a WORLD_ID", file=sys.stderr)
                return 2
            status = "running" if args.action == "resume" else "stoppedByDeveloper"
            try:
                await admin.set_status(store, args.world_id, status)
            except ValueError as exc:
                print(f"smalltown: {exc}", file=sys.stderr)
                return 1
            print(f"{args.world_id}: {status}")
        return 0
    finally:
        await store.close()


async def _import(args: argparse.Namespace) -> int:
    from smalltown.migrate.import_zip import fit_schema, import_table, import_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.server import load_app
    from smalltown.store import StoreError, open_store

    try:
        app_schema = with_system_tables(load_app(args.app).schema)
        store = await open_store(args.database, fit_schema(app_schema, args.snapshot, args.table))
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()
    written: dict[str, int] = {}
    interactive = sys.stderr.isatty()  # else (a log): a line every few seconds
    line_start, new_line = ("\r", "\n") if interactive else ("", "")  # past the redrawn line
    shown = started

    def progress(table: str, rows: int) -> None:
        nonlocal shown
        written[table] = rows
        now = time.monotonic()
        if not interactive and now - shown < PROGRESS_EVERY:
            return
        shown = now
        total = sum(written.values())
        rate = total / max(now - started, 1e-9)
        tables = f"{len(written)} table{'s' if len(written) > 1 else ''}"
        line = f"  {total:,} documents in {tables}, {rate:,.0f}/s (now {table}: {rows:,})"
        if interactive:
            print(f"\r{line}\x1b[K", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    try:
        if args.table:
            report = await import_table(store, args.table, args.snapshot, args.mode, progress)
        else:
            report = await import_zip(store, args.snapshot, args.mode, progress)
    except StoreError as exc:
        print(f"{new_line}smalltown: import failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    total = sum(report.tables.values())
    again = " (resumed)" if report.resumed else ""
    print(
        f"{line_start}imported {total:,} documents into "
        f"{len(report.tables)} tables{again} in "
        f"{time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    if report.files:
        print(f"  copied {report.files:,} stored files", file=sys.stderr)
    for note in report.notes:
        print(f"  note: {note}", file=sys.stderr)
    return 0


async def _export(args: argparse.Namespace) -> int:
    from smalltown.migrate.export import export_zip
    from smalltown.runtime.runtime import with_system_tables
    from smalltown.server import load_app
    from smalltown.store import StoreError, open_store

    try:
        store = await open_store(args.database, with_system_tables(load_app(args.app).schema))
    except StoreError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    started = time.monotonic()

    def progress(table: str, rows: int) -> None:
        print(f"\r  {table}: {rows:,} documents", end="", file=sys.stderr, flush=True)

    try:
        counts = await export_zip(store, args.out, progress, args.include_storage)
    finally:
        await store.close()
    total = sum(counts.values())
    print(
        f"\rexported {total:,} documents from {len(counts)} tables to {args.out} "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


async def _memories(args: argparse.Namespace) -> int:
    from smalltown.worlds import admin

    if (store := await _open_town_store(args.database)) is None:
        return 1
    try:
        if args.action == "reembed":
            return await _reembed(store)
        deleted = await admin.reset_memories(store)
    finally:
        await store.close()
    print(f"deleted {deleted} memories and embeddings; agents start remembering afresh")
    return 0


async def _reembed(store) -> int:
    """Embed every memory again with the embedder the server would use (from the
    environment), in place; the index takes that embedder's size."""
    from smalltown.llm import LLMError, config_from_env, open_provider
    from smalltown.llm.embedders import choose_embedder
    from smalltown.worlds.memory_index import reembed

    config = config_from_env()
    provider = open_provider(config) if config is not None else None
    embedder = await choose_embedder(provider)
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\r  re-embedded {done:,} of {total:,} memories", end="", file=sys.stderr)

    try:
        count = await reembed(store, embedder, progress=progress)
    except LLMError as exc:
        print(f"\nsmalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        if provider is not None:
            await provider.close()
    print(
        f"\rre-embedded {count:,} memories with {embedder.description} "
        f"in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


async def _replay(args: argparse.Namespace) -> int:
    from smalltown.worlds.replay import replay

    if (store := await _open_town_store(args.database)) is None:
        return 1
    try:
        report = await replay(store, args.world_id)
    except ValueError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(
        f"{report.world_id}: replayed {report.steps} steps and {report.inputs} inputs"
        + (
            f" (the history kept starts after step {report.after_step})"
            if report.after_step >= 0
            else ""
        )
        + f": {report.detail}"
    )
    return 0 if report.equal else 3


async def _usage(args: argparse.Namespace) -> int:
    """Read the store, not a server: usage is kept there per world, by every process."""
    from smalltown.worlds import admin

    if (store := await _open_town_store(args.database)) is None:
        return 1
    try:
        worlds = await admin.llm_usage(store)
    finally:
        await store.close()
    if args.world:
        worlds = [w for w in worlds if w["worldId"] == args.world]
        if not worlds:
            print(
                f"smalltown: no world {args.world!r}; see `smalltown worlds list`", file=sys.stderr
            )
            return 1
    if not worlds:
        print("no worlds yet: `smalltown run` creates the default one")
        return 0
    print(
        f"{'world':<34} {'window':<6} {'calls':>7} {'failed':>6} {'tokens in':>11} "
        f"{'tokens out':>11} {'p50 ms':>8} {'p99 ms':>8}  cost"
    )
    reasons = set()
    for world in worlds:
        for key, label in (("hour", "hour"), ("day", "24h")):
            part = world[key]
            latency = part["latencyMs"]
            usd = part["cost"]["usd"]
            if usd is None:
                reasons.add(part["cost"]["basis"])
            print(
                f"{world['worldId'] if key == 'hour' else '':<34} {label:<6} "
                f"{part['calls']:>7,.0f} {part['failures']:>6,.0f} {part['tokensIn']:>11,.0f} "
                f"{part['tokensOut']:>11,.0f} {_ms(latency['p50']):>8} {_ms(latency['p99']):>8}  "
                f"{'unknown' if usd is None else f'${usd:,.4f}'}"
            )
        budget = world["budget"]
        if budget["tokensPerHour"] is not None:
            left = budget["left"]
            print(
                f"{'':<34} budget {budget['tokensPerHour']:,.0f} tokens an hour: {left:,.0f} left"
                + ("" if left else f", paused until {_clock(budget['resetsAt'])}")
            )
    if worlds[0]["budget"]["tokensPerHour"] is None:
        print("no budget: set SMALLTOWN_LLM_TOKENS_PER_HOUR to cap each world's tokens an hour")
    for reason in sorted(reasons):
        print(f"cost {reason}")
    return 0


def _run_loop(coro):
    """Serve on uvloop where it is installed (uvicorn's standard extra brings it): its
    transports write a WebSocket frame in C, which is most of fanning an update out to
    many subscribers; asyncio's own loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _clock(ms: float) -> str:
    return time.strftime("%H:%M UTC", time.gmtime(ms / 1000))


def _run(settings: Settings) -> int:
    from smalltown.store import StoreError

    try:
        return _run_loop(_serve(settings))
    except StoreError as exc:
        print(f"smalltown: cannot start: {exc}", file=sys.stderr)
        return 1
    except (ImportError, ValueError) as exc:
        print(f"smalltown: cannot load app {settings.app!r}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _serve(settings: Settings) -> int:
    """Open the store first, so a bad URL is one clear line, not a server traceback."""
    import uvicorn

    from smalltown.server import ServerSettings, create_app
    from smalltown.server.ratelimit import RateLimits
    from smalltown.server.sync import SyncSettings
    from smalltown.store import open_store

    store = await open_store(settings.database_url)
    try:
        server_settings = ServerSettings(
            admin_key=settings.admin_key,
            sync=SyncSettings(max_queries=settings.max_subscriptions),
            rate_limits=RateLimits(rate=settings.rate_limit, burst=settings.rate_burst),
            max_body_bytes=settings.max_body_bytes,
            redis_url=settings.redis_url,
        )
        app = create_app(store, settings.app, server_settings)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            ws_max_size=settings.max_body_bytes,
            # Transitions are small and many; compressing each costs more CPU than it saves.
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        log.info(
            "smalltown %s at http://%s:%d on %s",
            __version__,
            settings.host,
            settings.port,
            store.url,
        )
        await server.serve()
        return 0 if server.started else 1
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
