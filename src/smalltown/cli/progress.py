"""Progress of a long command (import, export, reembed) on stderr: one line redrawn in
place on a terminal; on anything else (a log, a pipe, CI) a plain line every
``PROGRESS_EVERY`` seconds, so lines never run together on a `\\r`."""

from __future__ import annotations

import sys
import time
from typing import TextIO

PROGRESS_EVERY = 5.0  # seconds between progress lines when not on a terminal


class Progress:
    def __init__(self, stream: TextIO | None = None, every: float = PROGRESS_EVERY) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.interactive = self._stream.isatty()
        self._every = every
        self._shown = time.monotonic()  # a log gets its first line after ``every`` s
        self._drawn = False  # a redrawn line is on the terminal, without its line break

    def show(self, line: str) -> None:
        """``line`` as the progress: drawn over the last one on a terminal, else printed if
        the last was printed ``every`` seconds ago."""
        if self.interactive:
            self._stream.write(f"\r{line}\x1b[K")
            self._drawn = True
        else:
            now = time.monotonic()
            if now - self._shown < self._every:
                return
            self._shown = now
            self._stream.write(line + "\n")
        self._stream.flush()

    def done(self, line: str) -> None:
        """The closing line: over the progress line on a terminal."""
        self.end_line()
        self._stream.write(line + "\n")
        self._stream.flush()

    def end_line(self) -> None:
        """Leave the redrawn line, so what is printed next starts a line of its own."""
        if self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = False
