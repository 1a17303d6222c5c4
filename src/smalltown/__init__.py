"""smalltown: a self-hosted town of LLM characters, on SQLite, PostgreSQL or MongoDB."""

__version__ = "0.1.0"
