"""Build a git history full of secret-shaped values, for the time and memory of a scan whose
findings are counted in hundreds of thousands.

Real histories hold such files: a fixture dump, a log of presigned URLs, an environment
export per test run. Two kinds, every value made on this machine at run time from a seed (the
fixture generators of scanner/rules/templates.py; nothing is real):

    dumps    even commits add a JSON dump of rows, each with an access key ID, its secret and
             a presigned URL naming the key ID; odd commits add non-ASCII text of the same size
             (16 commits of 10 MB: 504,736 findings)
    tokens   each commit adds a file of `aws_session_token = ...` lines (800-character tokens)

Then time it like any repository (``bench_history.py --repo``: wall, CPU, the largest process,
the process tree):

    python bench/make_secrets_repo.py --kind dumps --out /tmp/dumps.git
    python bench/bench_history.py --repo /tmp/dumps.git --runs 1 --no-peers --no-pure --work /tmp/bw
    python bench/make_secrets_repo.py --kind tokens --commits 4 --out /tmp/tokens.git
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from scanner.rules.templates import aws_key_id, aws_secret, aws_session_token

WORDS = ["Grüße", "façade", "naïve", "日本語", "ключ", "секрет", "données", "ñandú"]


def dump_file(rng: random.Random, size: int) -> str:
    rows: list[str] = []
    filled = 0
    while filled < size:
        key, secret = aws_key_id(rng), aws_secret(rng)
        signature = f"{rng.getrandbits(256):064x}"
        row = json.dumps(
            {
                "aws_access_key_id": key,
                "aws_secret_access_key": secret,
                "url": f"https://b.s3.amazonaws.com/o?X-Amz-Credential={key}%2F20240101"
                f"%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={signature}",
            }
        )
        rows.append(row)
        filled += len(row) + 2
    return "[\n" + ",\n".join(rows) + "\n]\n"


def text_file(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    filled = 0
    while filled < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12))
        lines.append(line)
        filled += len(line.encode()) + 1
    return "\n".join(lines) + "\n"


def tokens_file(rng: random.Random, size: int) -> str:
    lines: list[str] = []
    filled = 0
    while filled < size:
        line = f"aws_session_token = {aws_session_token(rng, 800)}\n"
        lines.append(line)
        filled += len(line)
    return "".join(lines)


def files_of(kind: str, commit: int, rng: random.Random, size: int) -> tuple[str, str]:
    if kind == "tokens":
        return f"tokens{commit}.txt", tokens_file(rng, size)
    if commit % 2 == 0:
        return f"dump{commit}.json", dump_file(rng, size)
    return f"text{commit}.txt", text_file(rng, size)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def build(out: Path, kind: str, commits: int, size: int, seed: int) -> None:
    if out.exists():
        sys.exit(f"{out}: already exists")
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="keysweep-secrets-") as tmp:
        tree = Path(tmp)
        git("init", "-q", cwd=tree)
        git("config", "user.email", "bench@example.com", cwd=tree)
        git("config", "user.name", "Bench", cwd=tree)
        for commit in range(commits):
            name, text = files_of(kind, commit, rng, size)
            (tree / name).write_text(text, encoding="utf-8")
            git("add", "-A", cwd=tree)
            git("commit", "-q", "-m", f"add {name}", cwd=tree)
        git("clone", "-q", "--bare", str(tree), str(out), cwd=tree)
    print(f"{out}: {commits} commits of {kind}, {size:,} bytes each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=["dumps", "tokens"], default="dumps")
    parser.add_argument("--commits", type=int, default=16)
    parser.add_argument("--size", type=int, default=10_000_000, help="bytes of each file")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    build(args.out, args.kind, args.commits, args.size, args.seed)


if __name__ == "__main__":
    main()
