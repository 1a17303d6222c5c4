"""The front door: ``smalltown`` serves; ``smalltown bench ...`` measures."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from smalltown import __version__
from smalltown.config import Settings

log = logging.getLogger("smalltown.cli")


def _parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smalltown", description=__doc__)
    parser.add_argument("--version", action="version", version=f"smalltown {__version__}")
    sub = parser.add_subparsers(dest="command")

    run = sub.add_parser("run", help="start the server (the default command)")
    run.add_argument("--database", default=settings.database_url, help="database URL")
    run.add_argument("--host", default=settings.host)
    run.add_argument("--port", type=int, default=settings.port)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        print(f"smalltown: {exc}", file=sys.stderr)
        return 2
    args = _parser(settings).parse_args(argv)
    command = args.command or "run"
    if command == "run":
        return _run(
            getattr(args, "database", settings.database_url),
            getattr(args, "host", settings.host),
            getattr(args, "port", settings.port),
        )
    if command == "bench" and args.bench == "store":
        from smalltown.bench import store_bench

        counts = [int(c) for c in args.vectors.split(",") if c.strip()]
        asyncio.run(store_bench.run(args.database, counts, args.dims, args.searches))
        return 0
    return 2


def _run(database_url: str, host: str, port: int) -> int:
    from smalltown.store import StoreError

    try:
        return asyncio.run(_serve(database_url, host, port))
    except StoreError as exc:
        print(f"smalltown: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _serve(database_url: str, host: str, port: int) -> int:
    """Open the store first, so a bad URL is one clear line, not a server traceback."""
    import uvicorn

    from smalltown.server import create_app
    from smalltown.store import open_store

    store = await open_store(database_url)
    try:
        config = uvicorn.Config(create_app(store), host=host, port=port, log_level="info")
        server = uvicorn.Server(config)
        log.info("smalltown %s at http://%s:%d on %s", __version__, host, port, store.url)
        await server.serve()
        return 0 if server.started else 1
    finally:
        await store.close()


if __name__ == "__main__":
    sys.exit(main())
