"""Build a large, realistic git repository for the history benchmark.

Everything is generated on this machine from a seed (no network): a main branch with thousands of
commits of source-like files (Python, JavaScript, TypeScript, YAML, JSON, Markdown, lock files),
a few minified bundles with megabyte-long lines, a few binary files, feature branches merged back
(some with conflict resolutions), branches left unmerged, annotated and lightweight tags. A handful
of AWS access keys, generated at run time, are planted in some commits and some are removed
later. The planted keys are written to ``<repo>.planted.json`` beside the repository (never into
this project) so ``bench_history.py`` can measure recall.

History is streamed into ``git fast-import``; blob bytes are budgeted per commit so the total of
unique blob bytes lands near ``--total-mib``. The result is then repacked with delta compression
(``git repack -a -d -f``) so it looks like a real packed repository.

Presets (``--preset``):

    full   5,000 commits, 2.0 GiB of unique blob content, ~54,000 blobs, 45 MiB packed
           (default; builds in ~2 min on 2 idle cores, ~4.5 min on a busy machine)
    small    600 commits, 160 MiB of unique blob content, ~6,000 blobs (~10 s), for quick runs

The same seed gives the same commits, blobs and refs (the pack itself may differ byte-wise).

    python bench/make_history_repo.py                      # bench/work/history-full.git
    python bench/make_history_repo.py --preset small       # bench/work/history-small.git
    python bench/make_history_repo.py --commits 3000 --total-mib 1500 --out /tmp/r.git
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scanner.rules.templates import aws_key_id, aws_secret

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / "work"

PRESETS: dict[str, dict[str, int]] = {
    "full": {"commits": 5000, "total_mib": 2048, "files": 900, "seed": 20260101},
    "small": {"commits": 600, "total_mib": 160, "files": 300, "seed": 20260101},
}

AUTHORS = [
    (f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com")
    for first, last in [
        ("Ada", "Lovelace"),
        ("Alan", "Turing"),
        ("Grace", "Hopper"),
        ("Linus", "Benedict"),
        ("Margaret", "Hamilton"),
        ("Ken", "Thompson"),
        ("Barbara", "Liskov"),
        ("Dennis", "Ritchie"),
        ("Frances", "Allen"),
        ("Edsger", "Dijkstra"),
        ("Radia", "Perlman"),
        ("Guido", "Rossum"),
        ("Donald", "Knuth"),
        ("Sophie", "Wilson"),
        ("John", "Backus"),
        ("Hedy", "Lamarr"),
    ]
]

WORDS = " ".join(
    [
        "user account order item cart price total count index value result data config settings",
        "request response client server handler session cache queue worker task job event message",
        "record entry node tree graph edge path file stream buffer chunk block page row column",
        "table field schema model view controller service manager factory builder parser lexer",
        "tally logger metric timer retry limit offset cursor batch report invoice customer product",
        "region status state flag option param args kwargs context scope module package version",
    ]
).split()
KEYWORDY = [  # lines that trip keyword prefilters without holding a secret
    'AWS_REGION = "us-east-1"',
    "# credentials are read from the environment (AWS_PROFILE), never from this file",
    'secret_name = os.environ["APP_SECRET_NAME"]',
    "token = request.headers.get('Authorization', '').removeprefix('Bearer ')",
    "aws_access_key_id = os.environ.get('AWS_ACCESS_KEY_ID')",
    "password_field = forms.CharField(widget=forms.PasswordInput)",
    "# example key from the AWS docs: AKIAIOSFODNN7EXAMPLE",
]

KINDS: list[tuple[str, str, int, float]] = [
    # kind, extension, median size (bytes), weight
    ("py", ".py", 9000, 30),
    ("js", ".js", 8000, 20),
    ("ts", ".ts", 7000, 12),
    ("yaml", ".yaml", 2500, 8),
    ("json", ".json", 5000, 8),
    ("md", ".md", 6000, 8),
    ("conf", ".py", 3000, 4),  # settings modules: keyword-heavy
    ("lock", ".lock", 300_000, 0.3),
]
DIRS = [
    f"{top}/{sub}" if sub else top
    for top in ["src", "lib", "app", "tests", "docs", "deploy", "frontend/src", "tools", "services"]
    for sub in ["", "core", "api", "web", "models", "views", "jobs", "storage", "auth", "util/io"]
]


def ident(rng: random.Random) -> str:
    return "_".join(rng.sample(WORDS, rng.randint(1, 3)))


def camel(rng: random.Random) -> str:
    parts = rng.sample(WORDS, rng.randint(1, 3))
    return parts[0] + "".join(p.title().replace("_", "") for p in parts[1:])


def make_pool(kind: str, rng: random.Random, n: int) -> list[str]:
    """A pool of plausible lines for one file kind; files are built by sampling from it."""
    out: list[str] = []
    for _ in range(n):
        r = rng.random()
        a, b, c = ident(rng), ident(rng), ident(rng)
        num = rng.randint(0, 100_000)
        if kind in ("py", "conf"):
            line = rng.choice(
                [
                    f"def {a}({b}, {c}=None):",
                    f"    {a} = {b}.get('{c}', {num})",
                    f"    return [{a} for {a} in {b} if {a}.{c} > {num}]",
                    f"class {camel(rng).title()}({camel(rng).title()}):",
                    f'    """Return the {a.replace("_", " ")} for {b.replace("_", " ")}."""',
                    f"        self.{a} = {b}",
                    f"import {a}" if r < 0.5 else f"from {a} import {b}",
                    f"    if {a} is None:\n        raise ValueError('missing {b}')",
                    f"        logger.debug('%s {a} %d', {b}, {num})",
                    "",
                ]
            )

        elif kind in ("js", "ts"):
            t = ": number" if kind == "ts" else ""
            line = rng.choice(
                [
                    f"export function {camel(rng)}({camel(rng)}{t}, {camel(rng)}) {{",
                    f"  const {camel(rng)} = await {camel(rng)}.{camel(rng)}({num});",
                    f"  if (!{camel(rng)}) return null;",
                    f"  {camel(rng)}.{camel(rng)} = "
                    f"{camel(rng)}.map((x) => x.{camel(rng)} * {num});",
                    "}",
                    f"import {{ {camel(rng)} }} from './{a}';",
                    f"// TODO({rng.choice(AUTHORS)[0].split()[0].lower()}): handle {b} when {c}",
                    "",
                ]
            )
        elif kind == "yaml":
            line = rng.choice(
                [
                    f"{a}:",
                    f"  {b}: {num}",
                    f'  {c}: "{camel(rng)}"',
                    f"  - name: {a}",
                    f"    image: registry.example.com/{a}:{num % 50}.{num % 7}",
                ]
            )
        elif kind in ("json", "lock"):
            line = rng.choice(
                [
                    f'  "{camel(rng)}": {num},',
                    f'  "{camel(rng)}": "{camel(rng)}",',
                    f'    "resolved": "https://registry.example.org/{a}/-/{a}-{num % 31}.tgz",',
                    f'    "integrity": "sha512-{rng.randbytes(24).hex()}",',
                ]
            )
        else:  # md
            line = rng.choice(
                [
                    f"## {a.replace('_', ' ').title()}",
                    "",
                    f"The {a.replace('_', ' ')} keeps the {b.replace('_', ' ')} in {c}.",
                    f"- `{camel(rng)}` returns the {b.replace('_', ' ')} ({num} at most)",
                    f"    {a}({b}={num})",
                ]
            )
        if rng.random() < (0.25 if kind == "conf" else 0.0003 if kind != "lock" else 0.0):
            line = rng.choice(KEYWORDY)  # ~10% of ordinary files mention a keyword somewhere
        out.append(line)
    return out


@dataclass
class FileState:
    kind: str
    lines: list[str]
    mark: int = 0  # fast-import mark of the current content (0 = not yet written)
    joiner: str = "\n"

    def size(self) -> int:
        return sum(len(x) for x in self.lines) + len(self.lines)


class Generator:
    def __init__(
        self, commits: int, total_mib: int, files: int, seed: int, stream: IO[bytes]
    ) -> None:
        self.rng = random.Random(seed)
        self.commits = commits
        self.budget = total_mib * 1024 * 1024
        self.initial_files = files
        self.w = stream
        self.next_mark = 1
        self.blob_bytes = 0
        self.blob_count = 0
        self.when = 1_450_000_000  # Dec 2015
        self.pools = {k: make_pool(k, self.rng, 12000) for k, *_ in KINDS}
        self.planted: list[dict[str, object]] = []
        self.key_rng = random.Random(seed ^ 0x5EC2E7)
        self.commit_count = 0

    # -- low level fast-import output ---------------------------------------------------------
    def _mark(self) -> int:
        m = self.next_mark
        self.next_mark += 1
        return m

    def blob(self, data: bytes) -> int:
        m = self._mark()
        self.w.write(b"blob\nmark :%d\ndata %d\n" % (m, len(data)))
        self.w.write(data)
        self.w.write(b"\n")
        self.blob_bytes += len(data)
        self.blob_count += 1
        return m

    def write_file(self, f: FileState) -> int:
        if not f.mark:
            f.mark = self.blob(f.joiner.join(f.lines).encode() + b"\n")
        return f.mark

    def commit(
        self,
        ref: str,
        msg: str,
        changes: list[tuple[str, FileState | None]],
        parent: int | None = None,
        merge: int | None = None,
    ) -> int:
        for _, f in changes:
            if f is not None:
                self.write_file(f)
        m = self._mark()
        self.when += self.rng.randint(300, 40_000)
        name, email = self.rng.choice(AUTHORS)
        who = f"{name} <{email}> {self.when} +0000".encode()
        body = msg.encode()
        self.w.write(
            b"commit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n"
            % (ref.encode(), m, who, who, len(body), body)
        )
        if parent is not None:
            self.w.write(b"from :%d\n" % parent)
        if merge is not None:
            self.w.write(b"merge :%d\n" % merge)
        for path, f in changes:
            if f is None:
                self.w.write(b"D %s\n" % path.encode())
            else:
                mode = b"100755" if path.endswith(".sh") else b"100644"
                self.w.write(b"M %s :%d %s\n" % (mode, f.mark, path.encode()))
        self.w.write(b"\n")
        self.commit_count += 1
        return m

    # -- content ------------------------------------------------------------------------------
    def new_file(self, kind: str, median: int) -> FileState:
        rng = self.rng
        size = int(min(median * rng.lognormvariate(0, 0.9), median * 12))
        n = max(3, size // 34)
        return FileState(kind, rng.choices(self.pools[kind], k=n))

    def new_bundle(self) -> FileState:
        rng = self.rng
        n = rng.randint(2500, 9000)  # chunks of ~200 bytes -> 0.5-1.8 MB on a few lines
        pool = self.pools["js"]
        chunks = [";".join(x.strip() for x in rng.choices(pool, k=4)) for _ in range(n)]
        return FileState("bundle", chunks, joiner="")

    def new_binary(self) -> FileState:
        size = self.rng.randint(8_000, 120_000)
        return FileState("bin", [self.rng.randbytes(size).decode("latin-1")], joiner="")

    def modify(self, f: FileState) -> FileState:
        rng = self.rng
        if f.kind == "bin":
            return FileState("bin", [rng.randbytes(len(f.lines[0])).decode("latin-1")], joiner="")
        pool = self.pools["js" if f.kind == "bundle" else f.kind]
        lines = list(f.lines)
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(lines) + 1)
            op = rng.random()
            if op < 0.45 or len(lines) < 10:
                if f.kind == "bundle":
                    new = [
                        ";".join(x.strip() for x in rng.choices(pool, k=4))
                        for _ in range(rng.randint(1, 30))
                    ]
                else:
                    new = rng.choices(pool, k=rng.randint(1, 25))
                lines[pos:pos] = new
            elif op < 0.65:
                del lines[pos : pos + rng.randint(1, 12)]
            else:
                end = pos + rng.randint(1, 8)
                lines[pos:end] = (
                    rng.choices(pool, k=end - pos)
                    if f.kind != "bundle"
                    else [";".join(x.strip() for x in rng.choices(pool, k=4))] * (end - pos)
                )
        return FileState(f.kind, lines, joiner=f.joiner)

    def aws_key(self) -> tuple[str, str]:
        return aws_key_id(self.key_rng), aws_secret(self.key_rng)

    def plant(self, f: FileState, how: str) -> tuple[FileState, str]:
        key_id, secret = self.aws_key()
        style = len(self.planted) % 3
        if style == 0:
            snippet = [f'AWS_ACCESS_KEY_ID = "{key_id}"', f'AWS_SECRET_ACCESS_KEY = "{secret}"']
        elif style == 1:
            snippet = [
                "[default]",
                f"aws_access_key_id = {key_id}",
                f"aws_secret_access_key = {secret}",
            ]
        else:
            snippet = [f'  "accessKeyId": "{key_id}",', f'  "secretAccessKey": "{secret}",']
        lines = list(f.lines)
        pos = self.rng.randrange(len(lines) + 1)
        lines[pos:pos] = snippet
        self.planted.append({"key_id": key_id, "secret": secret, "how": how})
        return FileState(f.kind, lines, joiner=f.joiner), key_id

    def unplant(self, f: FileState, key_id: str) -> FileState:
        secret = next(str(p["secret"]) for p in self.planted if p["key_id"] == key_id)
        lines = [x for x in f.lines if key_id not in x and secret not in x]
        return FileState(f.kind, lines, joiner=f.joiner)

    # -- history ------------------------------------------------------------------------------
    def run(self) -> None:
        rng = self.rng
        weights = [w for *_, w in KINDS]
        tree: dict[str, FileState] = {}

        def add_random_file(t: dict[str, FileState]) -> tuple[str, FileState]:
            kind, ext, median, _ = rng.choices(KINDS, weights=weights)[0]
            if kind == "conf":
                path = f"{rng.choice(DIRS)}/settings_{ident(rng)}{ext}"
            elif kind == "lock":
                path = f"{rng.choice(['', 'frontend/', 'tools/'])}{ident(rng)}.lock"
            else:
                path = f"{rng.choice(DIRS)}/{ident(rng)}{ext}"
            while path in t:
                path = path.replace(ext, f"_{rng.randint(0, 999)}{ext}")
            f = self.new_file(kind, median)
            t[path] = f
            return path, f

        # Initial import: the seed tree, bundles and binaries.
        changes: list[tuple[str, FileState | None]] = []
        for _ in range(self.initial_files):
            changes.append(add_random_file(tree))
        for i in range(4):
            path = f"frontend/dist/bundle{i}.min.js"
            tree[path] = self.new_bundle()
            changes.append((path, tree[path]))
        for i in range(12):
            path = f"assets/img/{ident(rng)}_{i}.png"
            tree[path] = self.new_binary()
            changes.append((path, tree[path]))
        head = self.commit("refs/heads/main", "Initial import\n", changes)

        # Commits where keys are planted (and some removed later).
        n = self.commits
        plant_at = [int(n * x) for x in (0.08, 0.21, 0.37, 0.52, 0.66, 0.81, 0.93)]
        removals: list[tuple[int, str, str]] = []  # (at commit count, path, key id)
        feature_plant_pending = True
        conflict_plant_pending = True
        tag_no = 0
        i = 1
        while self.commit_count < n:
            remaining = max(1, n - self.commit_count)
            per_commit = (self.budget - self.blob_bytes) / remaining
            # Feature branch: fork, a few commits, merge back (or leave unmerged).
            if i % 41 == 0 and self.commit_count + 12 < n:
                fork = head
                branch = f"refs/heads/feature/{ident(rng).replace('_', '-')}-{i}"
                ftree = dict(tree)
                touched: set[str] = set()
                fhead = fork
                for j in range(rng.randint(2, 7)):
                    fchanges: list[tuple[str, FileState | None]] = []
                    for path in rng.sample(sorted(ftree), k=rng.randint(1, 4)):
                        ftree[path] = self.modify(ftree[path])
                        fchanges.append((path, ftree[path]))
                        touched.add(path)
                    if feature_plant_pending and self.commit_count > n * 0.3 and j == 0:
                        # A key only reachable from a branch that is never merged.
                        path = fchanges[0][0]
                        ftree[path], _ = self.plant(ftree[path], "unmerged-branch")
                        fchanges[0] = (path, ftree[path])
                        feature_plant_pending = False
                        branch += "-unmerged"
                    fhead = self.commit(
                        branch, f"WIP {ident(rng).replace('_', ' ')}\n", fchanges, parent=fhead
                    )
                # Main moves on meanwhile, touching one of the same files (-> conflict).
                conflict = rng.choice(sorted(touched))
                tree[conflict] = self.modify(tree[conflict])
                head = self.commit(
                    "refs/heads/main",
                    f"Fix {ident(rng).replace('_', ' ')}\n",
                    [(conflict, tree[conflict])],
                    parent=head,
                )
                if branch.endswith("-unmerged") or rng.random() < 0.15:
                    i += 1
                    continue
                mchanges: list[tuple[str, FileState | None]] = []
                for path in sorted(touched):
                    if path == conflict:
                        resolved = self.modify(ftree[path])
                        if conflict_plant_pending and self.commit_count > n * 0.45:
                            # A key that only the merge commit (conflict resolution) introduces.
                            resolved, _ = self.plant(resolved, "merge-resolution")
                            conflict_plant_pending = False
                        tree[path] = resolved
                    else:
                        tree[path] = ftree[path]
                    mchanges.append((path, tree[path]))
                head = self.commit(
                    "refs/heads/main",
                    f"Merge branch '{branch[11:]}'\n",
                    mchanges,
                    parent=head,
                    merge=fhead,
                )
                i += 1
                continue

            changes = []
            spent = 0
            paths = sorted(tree)
            while spent < per_commit and len(changes) < 60:
                r = rng.random()
                if r < 0.03:
                    path, f = add_random_file(tree)
                elif r < 0.04 and len(tree) > 50:
                    path = rng.choice(paths)
                    if path.endswith((".min.js", ".png")):
                        continue
                    del tree[path]
                    paths.remove(path)
                    changes.append((path, None))
                    continue
                else:
                    # Hot files: a small set of paths receives most edits, like real projects.
                    path = paths[int(len(paths) * (rng.random() ** 2.2))]
                    if path.endswith(".png") and rng.random() < 0.9:
                        continue
                    if path.endswith(".min.js") and rng.random() < 0.8:
                        continue
                    f = self.modify(tree[path])
                    tree[path] = f
                if any(p == path for p, _ in changes):
                    continue
                changes.append((path, f))
                spent += f.size()
            if plant_at and self.commit_count >= plant_at[0]:
                k = len(plant_at)
                plant_at.pop(0)
                path = rng.choice([p for p in paths if p.endswith((".py", ".yaml", ".json"))])
                tree[path], key_id = self.plant(tree[path], "main")
                changes = [c for c in changes if c[0] != path] + [(path, tree[path])]
                if k % 2 == 1:  # removed again ~2-5% of history later
                    at = self.commit_count + rng.randint(n // 50, n // 20)
                    removals.append((at, path, key_id))
                    self.planted[-1]["how"] = "main-removed-later"
            elif removals and self.commit_count >= removals[0][0]:
                _, path, key_id = removals.pop(0)
                if path in tree:
                    tree[path] = self.unplant(tree[path], key_id)
                    changes = [c for c in changes if c[0] != path] + [(path, tree[path])]
            msg = (
                rng.choice(["Fix", "Add", "Refactor", "Update", "Remove", "Document"])
                + f" {ident(rng).replace('_', ' ')}\n\n{ident(rng).replace('_', ' ')}.\n"
            )
            head = self.commit("refs/heads/main", msg, changes, parent=head)
            if i % 250 == 0:
                tag_no += 1
                tag = f"v{tag_no // 10}.{tag_no % 10}.0"
                body = f"Release {tag}\n".encode()
                who = f"Release Bot <release@example.com> {self.when} +0000".encode()
                self.w.write(
                    b"tag %s\nfrom :%d\ntagger %s\ndata %d\n%s\n"
                    % (tag.encode(), head, who, len(body), body)
                )
            i += 1
        self.w.write(b"done\n")


def git_in(out: Path, *args: str) -> list[str]:
    """A git command bound to the repository being built. ``--git-dir`` (an absolute path) stops
    git from ever discovering an enclosing repository, such as this project's own."""
    return ["git", f"--git-dir={out}", *args]


def run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True)


def build(out: Path, commits: int, total_mib: int, files: int, seed: int) -> dict[str, object]:
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run(["git", "init", "-q", "--bare", "-b", "main", str(out)], out)
    if not (out / "HEAD").is_file():
        raise SystemExit(f"make_history_repo: {out}: git init did not create a bare repository")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        git_in(out, "fast-import", "--quiet", "--done", "--depth=50"),
        cwd=out,
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    gen = Generator(commits, total_mib, files, seed, proc.stdin)
    gen.run()
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("make_history_repo: git fast-import failed")
    t1 = time.monotonic()
    print(
        f"fast-import: {gen.commit_count} commits, {gen.blob_count} blobs, "
        f"{gen.blob_bytes / 2**20:.0f} MiB of blob content in {t1 - t0:.0f}s",
        file=sys.stderr,
    )
    # Real repositories are delta-compressed packs; fast-import's pack is not. Repack with deltas.
    repack = ["repack", "-a", "-d", "-f", "-q", "--window=10", "--depth=50"]
    run(git_in(out, "-c", "pack.threads=2", *repack), out)
    run(git_in(out, "gc", "-q", "--prune=now"), out)
    t2 = time.monotonic()
    pack = sum(p.stat().st_size for p in (out / "objects" / "pack").glob("*.pack"))
    print(f"repack+gc: {t2 - t1:.0f}s, pack {pack / 2**20:.0f} MiB", file=sys.stderr)
    meta: dict[str, object] = {
        "commits": gen.commit_count,
        "blobs": gen.blob_count,
        "blob_bytes": gen.blob_bytes,
        "pack_bytes": pack,
        "seed": seed,
        "build_s": round(t2 - t0, 1),
        "planted": gen.planted,
    }
    planted_file = out.with_name(out.name + ".planted.json")
    planted_file.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def gen_bytes(meta: dict[str, object]) -> int:
    value = meta["blob_bytes"]
    assert isinstance(value, int)
    return value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", choices=sorted(PRESETS), default="full")
    ap.add_argument("--commits", type=int)
    ap.add_argument("--total-mib", type=int, help="target total of unique blob bytes, MiB")
    ap.add_argument("--files", type=int, help="files in the initial tree")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out", type=Path)
    ns = ap.parse_args(argv)
    p = dict(PRESETS[ns.preset])
    for k in ("commits", "total_mib", "files", "seed"):
        if getattr(ns, k) is not None:
            p[k] = getattr(ns, k)
    out = ns.out or WORK_DIR / f"history-{ns.preset}.git"
    meta = build(out, p["commits"], p["total_mib"], p["files"], p["seed"])
    planted = meta["planted"]
    assert isinstance(planted, list)
    print(
        f"{out}: {meta['commits']} commits, {meta['blobs']} blobs, "
        f"{gen_bytes(meta) / 2**30:.2f} GiB unique blob content, "
        f"{len(planted)} planted keys, built in {meta['build_s']}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
