"""Coverage-guided fuzzing of the parsers that read git's output, with atheris.

    pip install -e '.[fuzz]'
    python bench/fuzz_git_parsers.py -atheris_runs=200000
    FUZZ_TARGETS=log,catfile python bench/fuzz_git_parsers.py ...   # some targets only

Each input is turned (``FuzzedDataProvider``) into one of these cases:

1. ``git log --raw -z`` output (``scanner.sources.commitlog``): commits with fuzzed ids, parents,
   times and changes whose paths are arbitrary bytes (anything but NUL, as git allows).
   Complete output must parse back to exactly the commits that were written (round trip);
   output cut at a fuzzed offset (git died: killed, out of memory, corrupt object) may only
   end in ``GitError``, never in another exception.
2. ``git cat-file --batch`` (``scanner.sources.catfile.BlobReader``) over an in-memory object
   store with fuzzed blobs, trees, missing and corrupt objects (git dies part-way through a
   corrupt one): every readable blob comes out exactly once, in order, each corrupt object
   becomes one error naming it, and the reader neither raises nor loops.
3. ``redact_url``: a URL with user-info never keeps the password.

The targets live in ``tests/support/fuzz.py``; the test suite (``tests/test_properties.py``)
drives the same three with hypothesis instead of libFuzzer, so CI checks them without atheris.

At start-up the serialiser used here is checked against real ``git log`` output of a small
repository, so the fuzzed bytes are shaped like what git writes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

# The targets live in tests/support/fuzz.py, where the test suite drives them with hypothesis.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

with atheris.instrument_imports():
    from support.fuzz import check_serialiser_against_git, fuzz_catfile, fuzz_log, fuzz_redact_url

ALL_TARGETS = {"log": fuzz_log, "catfile": fuzz_catfile, "redact_url": fuzz_redact_url}
# FUZZ_TARGETS=log,catfile limits a run to some targets (say, while one crash is being fixed).
TARGETS = tuple(
    ALL_TARGETS[name] for name in os.environ.get("FUZZ_TARGETS", ",".join(ALL_TARGETS)).split(",")
)


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)](fdp)


def main() -> None:
    check_serialiser_against_git()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
