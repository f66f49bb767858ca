"""Archives read as the files they hold: zip (and jar, whl, docx, ...), tar, and gzip, bzip2
or xz over a tar or over one file. A Lambda deployment package or a release tarball committed
with a key inside is as leaked as the key written out. A SQLite database is read the same
way, each table as a member holding its rows as SQL (``app.db!settings``): a record stores
its values side by side with no separator (``aws_secret_access_keywJalr...``), which no
rule written for text can split, while ``INSERT INTO settings VALUES('aws_secret_access_key',
'wJalr...');`` is a form the rules know. (The database's own bytes are scanned too, by the
detector: a deleted row lingers in a free page.)

:func:`kind` tells an archive by its first bytes; :func:`members` yields the files
inside it, which the detector scans as ``ARCHIVE!MEMBER``. Reading is bounded, so a hostile
archive (a zip bomb, a million empty entries, an endless nest) costs a bounded amount of work:

- :data:`MAX_DEPTH` archives deep (an archive inside the archive being scanned; a
  ``.tar.gz`` is one archive);
- :data:`MAX_MEMBER_BYTES` of any one member (a larger member is passed over, as a file over
  ``--max-file-size`` is), :data:`MAX_TOTAL_BYTES` from one scanned archive in all,
  :data:`MAX_MEMBERS` entries looked at;
- members that are encrypted or stored with a compression Python cannot read are passed
  over, and a damaged archive yields what could be read before the damage.

Binary members are read as binary files are, as bytes: a key compiled into a class of a jar,
or into the ``classes.dex`` of an Android package, stands in its constant pool as it was
written.

A database is opened in memory from its bytes (never as a file, never writable), with
``trusted_schema`` off, only its ordinary tables read (no view, trigger or virtual table's
code runs), and SQLite's virtual machine stopped after :data:`MAX_SQLITE_STEPS` steps.

The readers (zipfile, tarfile, gzip, bz2, lzma, sqlite3) are imported when an archive is first
read: the pre-commit hook rarely meets one, and never pays for them otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import sqlite3

MAX_DEPTH = 2
MAX_MEMBER_BYTES = 16 << 20
MAX_TOTAL_BYTES = 64 << 20
MAX_MEMBERS = 4096
MAX_SQLITE_STEPS = 50_000_000  # about a second of SQLite's virtual machine
SQLITE_MAGIC = b"SQLite format 3\x00"
_SUFFIXES = {"gz": ".gz", "bz2": ".bz2", "xz": ".xz"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def kind(raw: bytes) -> str | None:
    """``zip``, ``tar``, ``gz``, ``bz2``, ``xz`` or ``sqlite`` when ``raw`` starts as that
    archive, compressed stream or database does; None otherwise."""
    if raw.startswith(b"PK\x03\x04"):
        return "zip"
    if raw.startswith(b"\x1f\x8b\x08"):
        return "gz"
    if raw.startswith(b"BZh") and raw[3:4].isdigit():
        return "bz2"
    if raw.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if raw[257:262] == b"ustar":
        return "tar"
    if raw.startswith(SQLITE_MAGIC):
        return "sqlite"
    return None


def holds_plain_bytes(found: str) -> bool:
    """True for a kind whose own bytes show what it holds uncompressed (a database, whose
    free pages keep deleted rows), and are scanned beside its members."""
    return found == "sqlite"


def described(found: str) -> str:
    """``found`` (a :func:`kind`) for a message: "an archive" or "a SQLite database"."""
    return "a SQLite database" if found == "sqlite" else "an archive"


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class _Budget:
    """What is left to read of one scanned archive, nested ones included."""

    left: int
    entries: int

    def spent(self) -> bool:
        return self.left <= 0 or self.entries <= 0

    def take(self, stream: _Readable) -> bytes | None:
        """Up to :data:`MAX_MEMBER_BYTES` of ``stream`` within the budget; None when the
        member is larger, or the budget runs out before its end."""
        limit = min(MAX_MEMBER_BYTES, self.left)
        data = stream.read(limit + 1)
        self.left -= len(data)
        return None if len(data) > limit else data


@functools.cache
def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged or unsupported archive may raise; all of it ends the reading."""
    import gzip
    import lzma
    import sqlite3
    import tarfile
    import zipfile
    import zlib

    return (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        tarfile.TarError,
        gzip.BadGzipFile,
        zlib.error,
        lzma.LZMAError,
        EOFError,
        OSError,
        ValueError,
        RuntimeError,  # an encrypted zip member
        NotImplementedError,  # a zip compression method Python lacks
        sqlite3.Error,  # a damaged database, or one stopped at the step limit
    )


def members(raw: bytes, name: str) -> Iterator[tuple[str, bytes]]:
    """The files inside the archive ``raw`` (whose own file name is ``name``), as
    (member name, bytes); the members of an archive inside it are named ``INNER!MEMBER``.
    Empty when ``raw`` is no archive, or cannot be read at all."""
    yield from _members(raw, name, 1, _Budget(MAX_TOTAL_BYTES, MAX_MEMBERS))


def _members(raw: bytes, name: str, depth: int, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    found = kind(raw)
    if found is None or depth > MAX_DEPTH:
        return
    entries: Iterator[tuple[str, bytes]]
    if found == "zip":
        entries = _zip(raw, budget)
    elif found == "tar":
        entries = _tar(raw, budget)
    elif found == "sqlite":
        entries = _sqlite(raw, budget)
    else:
        entries = _compressed(raw, found, name, budget)
    try:
        for member, data in entries:
            if kind(data) is not None:
                for inner, text in _members(data, member, depth + 1, budget):
                    yield f"{member}!{inner}", text
            else:
                yield member, data
    except _read_errors():
        return  # damaged or unsupported: what was read before it stands


def _zip(raw: bytes, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        for info in archive.infolist():
            if budget.spent():
                return
            budget.entries -= 1
            if info.is_dir() or info.flag_bits & 0x1:  # a directory, or encrypted
                continue
            with archive.open(info) as stream:
                data = budget.take(stream)
            if data is not None:
                yield info.filename, data


def _tar(raw: bytes, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
        for info in archive:
            if budget.spent():
                return
            budget.entries -= 1
            stream = archive.extractfile(info) if info.isfile() else None
            if stream is None:
                continue
            with stream:
                data = budget.take(stream)
            if data is not None:
                yield info.name, data


def _decompressing(found: str, raw: bytes) -> io.BufferedIOBase:
    """A reader of ``raw``, a stream compressed as ``found`` (gz, bz2, xz)."""
    import bz2
    import gzip
    import lzma

    if found == "gz":
        return gzip.GzipFile(fileobj=io.BytesIO(raw))
    if found == "bz2":
        return bz2.BZ2File(io.BytesIO(raw))
    return lzma.LZMAFile(io.BytesIO(raw))


def _compressed(raw: bytes, found: str, name: str, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    """One compressed stream: a tarball's members, or the one file it holds, named for the
    file it was (``app.log.gz`` holds ``app.log``)."""
    with _decompressing(found, raw) as stream:
        data = budget.take(stream)
    if data is None:
        return
    if kind(data) == "tar":  # .tar.gz, .tgz: one archive, not one inside another
        yield from _tar(data, budget)
        return
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    suffix = _SUFFIXES[found]
    yield (base[: -len(suffix)] if base.endswith(suffix) else base) or "-", data


def _sqlite(raw: bytes, budget: _Budget) -> Iterator[tuple[str, bytes]]:
    """Each ordinary table of the database ``raw`` as SQL, one ``INSERT`` line per row, up to
    :data:`MAX_MEMBER_BYTES` a table (a larger table gives its first rows)."""
    import sqlite3

    image = bytearray(raw)
    if image[18:20] == b"\x02\x02":  # WAL mode: its -wal file is not here; read the file alone
        image[18:20] = b"\x01\x01"
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return int(steps[0] * 1000 > MAX_SQLITE_STEPS)

    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.deserialize(bytes(image))
        db.text_factory = _text
        db.execute("PRAGMA trusted_schema = OFF")
        db.execute("PRAGMA query_only = ON")
        db.set_progress_handler(tick, 1000)
        tables = db.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY rootpage"
        ).fetchall()
        for (name,) in tables:
            if budget.spent():
                return
            budget.entries -= 1
            text = _table_text(db, str(name), min(MAX_MEMBER_BYTES, budget.left))
            budget.left -= len(text)
            yield str(name), text


def _table_text(db: sqlite3.Connection, name: str, limit: int) -> bytes:
    """The rows of table ``name``, as SQL, up to ``limit`` bytes; what was read before an
    error (a damaged page, the step limit) stands."""
    import sqlite3

    quoted = name if _IDENTIFIER.fullmatch(name) else '"' + name.replace('"', '""') + '"'
    lines: list[str] = []
    size = 0
    try:
        for row in db.execute(f"SELECT * FROM {quoted}"):
            line = f"INSERT INTO {quoted} VALUES({','.join(map(_sql_value, row))});\n"
            size += len(line)
            if size > limit:
                break
            lines.append(line)
    except sqlite3.Error:
        pass
    return "".join(lines).encode("utf-8")


def _text(value: bytes) -> str:
    """A TEXT value; one that is not UTF-8 is read with replacement characters (sqlite3's
    own decoding would fail the whole table)."""
    return value.decode("utf-8", "replace")


def _sql_value(value: object) -> str:
    """A column's value as an SQL literal; a BLOB as the text it holds (a JSON document or a
    token stored as bytes), NUL bytes written ``\\0`` so the member stays text."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        return "'" + value.replace("'", "''").replace("\x00", "\\0") + "'"
    return str(value)
