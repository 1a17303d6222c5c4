"""An app whose one mutation waits at a gate the test opens: a mutation still running
while its client reconnects and replays it."""
