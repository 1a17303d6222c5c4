"""``python -m smalltown.cli``: the same as the ``smalltown`` command."""

from smalltown.cli import main

raise SystemExit(main())
