"""Big buffers go back to the OS once freed, however many came before."""

import subprocess
import sys

import pytest

PROBE = """
import os, sys
from smalltown.migrate.allocation import map_big_buffers
if sys.argv[1] == "fixed":
    assert map_big_buffers()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
base = rss()
for _ in range(3):  # the first free raises glibc's own threshold past this size
    block = bytearray(8 << 20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    del block
print(rss() - base)
"""


def _kept_after_freeing(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_big_buffers_leave_the_process():
    assert _kept_after_freeing("default") >= 6 << 20  # what the setting is for
    assert _kept_after_freeing("fixed") < 2 << 20
