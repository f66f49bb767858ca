"""Fixtures that several test modules share.

The AWS fixtures import tests/support/moto_server.py inside the fixture, so suites that never
ask for them never import moto. Modules that talk to AWS opt in with
``pytestmark = pytest.mark.usefixtures("aws_env")``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.moto_server import MotoServer


@pytest.fixture(scope="session")
def moto() -> MotoServer:
    """The session's one moto server process on 127.0.0.1, IAM authentication on."""
    from support.moto_server import shared_moto

    return shared_moto()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy AWS_* settings and loopback-only name resolution: no test can reach real AWS."""
    from support.moto_server import dummy_aws_env

    dummy_aws_env(monkeypatch, tmp_path)


@pytest.fixture
def in_tmp_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run the test with ``tmp_path`` as the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Path], Path]]:
    """``make_unreadable(path)``: mode 000 for the test, and as root (who reads such files
    anyway) the file source's one open of that path fails as it would for a user."""
    locked: list[Path] = []

    def make(path: Path) -> Path:
        path.chmod(0)
        locked.append(path)
        if os.geteuid() == 0:
            import scanner.sources.files as files_mod

            real_open = files_mod.os.open

            def refusing_open(name: str, flags: int, *args: int) -> int:
                if os.fspath(name) == str(path):
                    raise PermissionError(13, "Permission denied", str(name))
                return real_open(name, flags, *args)

            monkeypatch.setattr(files_mod.os, "open", refusing_open)
        return path

    yield make
    for path in locked:
        path.chmod(0o644)


@pytest.fixture(scope="session", autouse=True)
def keysweep_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Compiled rule databases and loaded rule packs go to a cache of the session's own,
    never the user's."""
    from scanner import cache

    directory = tmp_path_factory.mktemp("keysweep-cache")
    directory.chmod(0o700)
    saved = os.environ.get(cache.ENV)
    os.environ[cache.ENV] = str(directory)
    yield directory
    if saved is None:
        os.environ.pop(cache.ENV, None)
    else:
        os.environ[cache.ENV] = saved
