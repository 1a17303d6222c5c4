"""An import's peak memory kept flat: its big buffers come from the OS and go back to it.

An import passes buffers of a few MB around (a chunk of lines, a batch of prepared rows,
a COPY payload), from several threads. glibc serves such a block with its own mapping,
but after one is freed it raises its threshold for that (up to 32 MB), so later blocks of
the size come from the heaps instead, one per thread, where fragmentation kept some 20 MB
(of 130) that the import no longer used. Setting the threshold fixes it where it was.
"""

from __future__ import annotations

import ctypes
import sys

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
THRESHOLD = 1 << 20


def map_big_buffers(threshold: int = THRESHOLD) -> bool:
    """Blocks of ``threshold`` bytes or more are mapped apart and unmapped when freed.
    Returns whether the C library took the setting (glibc does; elsewhere nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1
