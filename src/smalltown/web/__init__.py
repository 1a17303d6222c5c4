"""The browser client: static files (plain JavaScript modules, no build step), served at /."""

from pathlib import Path

STATIC = Path(__file__).parent / "static"
