"""scanner.heap: glibc's allocator, told to map large blocks on their own (checked in fresh
processes, since the setting lasts for the process)."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest
from support.run import REPO_ROOT

PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from scanner import heap

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
        ).split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    if sys.argv[1] == "map":
        heap.map_large_blocks()
    block = bytearray(16 << 20)  # freed, it raises glibc's own threshold past 16 MiB
    del block
    before = libc.mallinfo2().hblks
    block = bytearray(2 << 20)
    print(libc.mallinfo2().hblks - before)
    """
)


def _mapped_blocks(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", PROBE, mode], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    return int(run.stdout)


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(ctypes.CDLL(None), "mallinfo2"),
    reason="glibc's mallinfo2 is needed to see the mappings",
)
def test_a_large_block_gets_its_own_mapping_once_asked() -> None:
    # glibc's default: after a 16 MiB block was freed, a 2 MiB one comes from the heap
    assert _mapped_blocks("default") == 0
    assert _mapped_blocks("map") == 1
