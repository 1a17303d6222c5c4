"""A small chat app that the runtime and server tests (and the official clients) run against."""
