"""SQLite databases read as their tables (scanner/archives.py): a key in a committed
``app.db`` found by scan, staged and history, a deleted row found in the
database's free pages, hostile databases read within bounds, and remediate refusing what
git filter-repo --replace-text would leave as it is. Every database and key is made at run
time."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from support.keys import key_id, secret_key
from support.repo import Repo
from support.run import keysweep
from support.samples import java_class

from scanner import archives
from scanner.detect import Detector
from scanner.models import Fragment, Source
from scanner.rules import load_rules

KEY, SECRET = key_id("sqlite"), secret_key("sqlite")
OTHER_KEY, OTHER_SECRET = key_id("sqlite-deleted"), secret_key("sqlite-deleted")


def _database(path: Path, script: str, rows: dict[str, list[tuple[object, ...]]]) -> bytes:
    """A database at ``path`` made by ``script`` and filled with ``rows`` (table -> rows)."""
    db = sqlite3.connect(path)
    db.executescript(script)
    for table, values in rows.items():
        marks = ",".join("?" * len(values[0]))
        db.executemany(f"INSERT INTO {table} VALUES({marks})", values)
    db.commit()
    db.close()
    return path.read_bytes()


def _settings(path: Path) -> bytes:
    return _database(
        path,
        "CREATE TABLE settings(name TEXT, value TEXT);",
        {
            "settings": [
                ("region", "eu-west-1"),
                ("aws_access_key_id", KEY),
                ("aws_secret_access_key", SECRET),
            ]
        },
    )


def _scan(raw: bytes, path: str = "app.db") -> list[tuple[str, str, int, str]]:
    found = Detector(load_rules()).scan(Fragment(raw, path, Source.FILE))
    return [(f.rule_id, f.path, f.line, f.secret) for f in found]


def _report(stdout: str) -> list[dict[str, object]]:
    findings: list[dict[str, object]] = json.loads(stdout)["findings"]
    return findings


def test_a_table_reads_as_sql_and_its_key_pairs(tmp_path: Path) -> None:
    raw = _settings(tmp_path / "app.db")
    assert KEY.encode() in raw and b"aws_access_key_id" + KEY.encode() in raw  # side by side
    assert archives.kind(raw) == "sqlite"
    assert dict(archives.members(raw, "app.db")) == {
        "settings": (
            "INSERT INTO settings VALUES('region','eu-west-1');\n"
            f"INSERT INTO settings VALUES('aws_access_key_id','{KEY}');\n"
            f"INSERT INTO settings VALUES('aws_secret_access_key','{SECRET}');\n"
        ).encode()
    }
    found = Detector(load_rules()).scan(Fragment(raw, "app.db", Source.FILE))
    assert [(f.rule_id, f.path, f.line) for f in found] == [
        ("aws-access-key-id", "app.db!settings", 2),
        ("aws-secret-access-key", "app.db!settings", 3),
    ]
    assert found[0].paired and found[0].paired[0].secret == SECRET


def test_values_of_every_type_stay_text(tmp_path: Path) -> None:
    """A BLOB holding JSON, a quote and a NUL byte inside TEXT, numbers, NULL, TEXT that is
    not UTF-8, and a table whose name needs quoting."""
    document = json.dumps({"aws_access_key_id": KEY, "aws_secret_access_key": SECRET})
    raw = _database(
        tmp_path / "cache.sqlite",
        'CREATE TABLE "odd ""name"""(id INTEGER, doc BLOB, note TEXT, score REAL, gone TEXT);',
        {'"odd ""name"""': [(1, document.encode(), "it's\x00here", 0.5, None)]},
    )
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    db.execute('UPDATE "odd ""name""" SET gone = CAST(X\'C3FF41\' AS TEXT)')
    db.commit()
    db.close()
    raw = (tmp_path / "cache.sqlite").read_bytes()
    members = dict(archives.members(raw, "cache.sqlite"))
    text = members['odd "name"'].decode()
    assert text.startswith('INSERT INTO "odd ""name""" VALUES(1,\'{"aws_access_key_id": ')
    assert "'it''s\\0here',0.5,'\ufffdA');\n" in text.replace("\ufffd\ufffd", "\ufffd")
    assert [(r, p, line) for r, p, line, _ in _scan(raw, "cache.sqlite")] == [
        ("aws-access-key-id", 'cache.sqlite!odd "name"', 1),
        ("aws-secret-access-key", 'cache.sqlite!odd "name"', 1),
    ]


def test_a_deleted_row_is_found_in_the_free_pages_once(tmp_path: Path) -> None:
    """Deleting a row leaves its bytes in the file until VACUUM (unless SQLite was built or
    set to overwrite them, as this test's may be): reported at the database itself. A key
    the tables still hold is reported once, at its table."""
    path = tmp_path / "app.db"
    _settings(path)
    found = _scan(_with_deleted_rows(path))
    assert ("aws-access-key-id", "app.db", 1, OTHER_KEY) in [(r, p, 1, s) for r, p, _, s in found]
    assert sorted(s for _, _, _, s in found) == sorted([KEY, SECRET, OTHER_KEY, OTHER_SECRET])
    assert [p for r, p, _, s in found if s in (KEY, SECRET)] == ["app.db!settings"] * 2


def test_a_deleted_row_of_a_utf16_database_is_found(tmp_path: Path) -> None:
    """SQLite keeps a UTF-16 database's text as UTF-16: a deleted row's bytes, still in a
    free page, are read as the database's UTF-16 text (scanner/detect/binary.py)."""
    raw = _with_deleted_rows(tmp_path / "app.db", encoding="UTF-16le")
    assert OTHER_KEY.encode("utf-16-le") in raw and OTHER_KEY.encode() not in raw
    assert {(r, p, s) for r, p, _, s in _scan(raw)} == {
        ("aws-access-key-id", "app.db", OTHER_KEY),
        ("aws-secret-access-key", "app.db", OTHER_SECRET),
    }


def _with_deleted_rows(path: Path, *, encoding: str | None = None) -> bytes:
    """The database at ``path`` with a table whose two rows (``OTHER_KEY`` and its secret)
    were deleted, their bytes left in its free pages; ``encoding`` set first, if given."""
    db = sqlite3.connect(path)
    if encoding is not None:
        db.execute(f"PRAGMA encoding = '{encoding}'")
    db.execute("PRAGMA secure_delete = OFF")
    db.execute("CREATE TABLE old(line TEXT)")
    db.execute("INSERT INTO old VALUES(?)", (f"aws_access_key_id={OTHER_KEY}",))
    db.execute("INSERT INTO old VALUES(?)", (f"aws_secret_access_key={OTHER_SECRET}",))
    db.commit()
    db.execute("DELETE FROM old")
    db.commit()
    db.close()
    return path.read_bytes()


def test_a_wal_database_is_read_from_its_main_file(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE settings(name TEXT, value TEXT)")
    db.executemany(
        "INSERT INTO settings VALUES(?, ?)",
        [("aws_access_key_id", KEY), ("aws_secret_access_key", SECRET)],
    )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = path.read_bytes()
    db.close()
    assert raw[18:20] == b"\x02\x02"
    assert {p for _, p, _, _ in _scan(raw)} == {"app.db!settings"}


def test_views_triggers_and_virtual_tables_never_run(tmp_path: Path) -> None:
    """A view that would never end, a trigger, and an FTS5 table (its shadow tables are
    ordinary ones and are read): only table rows come out, at once."""
    raw = _database(
        tmp_path / "app.db",
        "CREATE TABLE settings(name TEXT, value TEXT);"
        "CREATE VIEW forever AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
        "SELECT i FROM n;"
        "CREATE TRIGGER t AFTER INSERT ON settings BEGIN SELECT 1; END;"
        "CREATE VIRTUAL TABLE notes USING fts5(body);",
        {"settings": [("aws_access_key_id", KEY)], "notes": [(f"secret {SECRET}",)]},
    )
    members = dict(archives.members(raw, "app.db"))
    assert "forever" not in members and "notes" not in members
    row = f"INSERT INTO settings VALUES('aws_access_key_id','{KEY}');\n"
    assert members["settings"] == row.encode()
    assert any(SECRET.encode() in text for text in members.values())  # notes_content


def test_damaged_and_runaway_databases_give_what_was_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _settings(tmp_path / "app.db")
    assert list(archives.members(raw[:100], "cut.db")) == []
    garbage = raw[:16] + bytes(range(256)) * 40
    assert list(archives.members(garbage, "garbage.db")) == []
    broken = bytearray(raw)
    broken[4096:8192] = b"\xff" * 4096  # the table's page
    assert dict(archives.members(bytes(broken), "broken.db")) in ({}, {"settings": b""})
    big = _database(
        tmp_path / "big.db",
        "CREATE TABLE t(v TEXT);",
        {"t": [(f"row {i}",) for i in range(20_000)]},
    )
    monkeypatch.setattr(archives, "MAX_SQLITE_STEPS", 20_000)
    text = dict(archives.members(big, "big.db"))["t"]
    assert text.startswith(b"INSERT INTO t VALUES('row 0');\n")
    assert 0 < text.count(b"\n") < 20_000
    monkeypatch.setattr(archives, "MAX_MEMBER_BYTES", 1000)
    text = dict(archives.members(big, "big.db"))["t"]
    assert 900 < len(text) <= 1000 and text.endswith(b");\n")


def test_scan_staged_and_history_find_a_key_in_a_database(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    _settings(repo.path / "app.db")
    run = keysweep("scan", str(repo.path), "-f", "json")
    assert run.code == 1, run.stderr
    assert {Path(str(f["path"])).name for f in _report(run.stdout)} == {"app.db!settings"}
    repo.git("add", "app.db")
    run = keysweep("staged", "-f", "json", cwd=repo.path)
    assert run.code == 1, run.stderr
    assert {f["path"] for f in _report(run.stdout)} == {"app.db!settings"}
    added = repo.commit_staged("add the database")
    run = keysweep("history", str(repo.path), "-f", "json")
    assert run.code == 1, run.stderr
    findings = _report(run.stdout)
    assert sorted((f["path"], f["line"]) for f in findings) == [
        ("app.db!settings", 2),
        ("app.db!settings", 3),
    ]
    assert {f["commit"]["sha"] for f in findings} == {added}  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "make", "kind"),
    [
        ("app.db", _settings, "a SQLite database"),
        (
            "Config.class",
            lambda _: java_class("ACCESS_KEY", KEY, "SECRET_KEY", SECRET),
            "a binary file",
        ),
    ],
)
def test_remediate_refuses_what_replace_text_leaves_as_it_is(
    tmp_path: Path, name: str, make: object, kind: str
) -> None:
    repo = Repo(tmp_path / "repo")
    raw = make(repo.path / name)  # type: ignore[operator]
    (repo.path / name).write_bytes(raw)
    repo.git("add", name)
    repo.commit_staged("add it")
    report = tmp_path / "report.json"
    assert keysweep("history", str(repo.path), "-f", "json", "-o", str(report)).code == 1
    run = keysweep("remediate", str(report), "--repo", str(repo.path))
    assert run.code == 2, run.stdout
    assert f"is {kind} ({name}): git filter-repo --replace-text leaves it as it is" in run.stdout
    assert f"--invert-paths --path {name}" in run.stdout
    assert SECRET not in run.stdout + run.stderr
