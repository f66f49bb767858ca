"""Writing what keysweep produces: reports, baselines, audit logs.

A regular file (or a new path) is written atomically: a reader sees the old file or the new
one, never half of either. Anything else a user names is written *through*, never replaced:
a device (``/dev/stdout``, ``/dev/null``), a FIFO, ``/dev/fd/N`` and a shell's ``>(cmd)``. A
symbolic link stays a link: the file it leads to is what gets written. ``-`` is stdout.

Modes: a new file gets ``0666`` less the umask (``0600`` when it holds plain secrets); an
existing file keeps its mode, narrowed to ``0600`` for plain secrets, never widened.

What is written may come in pieces (a report made as it is written, scanner/report/jsontext.py):
they are gathered into writes of ``WRITE_SIZE`` bytes, and a file is still replaced only once
its last piece is on disk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from scanner.errors import OutputError

STDOUT = "-"
PRIVATE_MODE = 0o600
WRITE_SIZE = 1 << 20  # bytes gathered from pieces before each write
# Text is written as UTF-8 whatever the locale; a lone surrogate (a non-UTF-8 file name)
# becomes a \udcXX escape, which JSON reads back as the same name.
Payload = str | bytes | Iterable[str | bytes]


def _utf8(text: str | bytes) -> bytes:
    return text.encode("utf-8", "backslashreplace") if isinstance(text, str) else text


def _writes(data: Payload) -> Iterator[bytes]:
    """``data`` as the bytes of successive writes: pieces gathered to ``WRITE_SIZE``."""
    if isinstance(data, str | bytes):
        yield _utf8(data)
        return
    gathered: list[bytes] = []
    size = 0
    for text in data:
        piece = _utf8(text)
        gathered.append(piece)
        size += len(piece)
        if size >= WRITE_SIZE:
            yield b"".join(gathered)
            gathered.clear()
            size = 0
    if gathered:
        yield b"".join(gathered)


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(path: str | os.PathLike[str], data: Payload, *, private: bool = False) -> None:
    """Write ``data`` where ``path`` leads (see the module docstring); ``private`` for a file
    holding plain secrets. Raises :class:`OutputError` naming ``path`` and the reason."""
    name = os.fspath(path)
    if name == STDOUT:
        write_stdout(data)
        return
    try:
        info: os.stat_result | None = os.stat(name)  # follows links
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise OutputError(f"cannot write {name}: {os.strerror(errno.EISDIR)}")
        _write_through(name, data)
        return
    # A regular file or a new path; a symbolic link is kept and the file it leads to written.
    target = os.path.realpath(name) if os.path.islink(name) else name
    mode = _new_mode(info, private)
    write_atomic(target, data, mode=mode, label=name)


def _new_mode(info: os.stat_result | None, private: bool) -> int:
    base = 0o666 & ~current_umask() if info is None else stat.S_IMODE(info.st_mode)
    return base & PRIVATE_MODE if private else base


def _write_through(name: str, data: Payload) -> None:
    """A device, FIFO or pipe: open it as it is and write (no temporary file, no rename)."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_NOCTTY)
        try:
            for part in _writes(data):
                view = memoryview(part)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {name}: {exc.strerror or exc}") from None


def write_stdout(data: Payload) -> None:
    """Write ``data`` to standard output. A closed stdout or a failed write (``> /dev/full``) is
    an :class:`OutputError`; a reader that went away (``| head -1``) raises BrokenPipeError,
    which the CLI ends quietly."""
    stream = sys.stdout
    if stream is None:
        raise OutputError("cannot write standard output: it is closed")
    binary = getattr(stream, "buffer", None)
    try:
        if binary is None:  # a text-only stream put in place of stdout
            for part in _writes(data):
                stream.write(part.decode("utf-8"))
            stream.flush()
        else:
            stream.flush()
            # A buffered write that the reader cuts short returns the bytes it wrote and
            # raises nothing (``| head -1`` after 64 KiB of a large report): only the next
            # write says the pipe is broken.
            for part in _writes(data):
                view = memoryview(part)
                while view:
                    view = view[binary.write(view) or 0 :]
            binary.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: the stream was closed
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        raise OutputError(f"cannot write standard output: {reason}") from None


def flush_stdout() -> None:
    """Flush what commands printed, so a failed write is an error here, not a complaint
    from the interpreter at exit."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "it is closed"
        silence_stdout()
        raise OutputError(f"cannot write standard output: {reason}") from None


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe (or socket) whose reader has closed it: ``| head -1``. Where
    that cannot be told (no file descriptor, no ``poll``), True, the quiet ending."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
    except (AttributeError, OSError, ValueError):
        return True
    poller.register(fd, select.POLLOUT)
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def stdout_failed(exc: OSError) -> bool:
    """True when ``exc`` is stdout refusing what a command printed to it: a write error
    naming no file (keysweep wraps every file it writes in OutputError), or a flush that
    fails again."""
    if sys.stdout is None:  # print() to a closed stdout writes nothing: not the cause
        return False
    if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EBADF):
        return True
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return True
    return False


def write_atomic(
    path: str | os.PathLike[str],
    data: Payload,
    *,
    mode: int | None = None,
    label: str | None = None,
) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and rename it.

    ``mode`` None keeps an existing file's mode, else ``0666`` less the umask. On any failure
    (disk full, permission, missing directory) the previous file at ``path`` is left
    untouched and an :class:`OutputError` names ``label`` (default: the path) and the reason.
    """
    target = Path(path)
    shown = label or str(target)
    directory = target.parent if str(target.parent) else Path(".")
    tmp_name: str | None = None
    try:
        if mode is None:
            try:
                mode = stat.S_IMODE(os.stat(target).st_mode)
            except FileNotFoundError:
                mode = 0o666 & ~current_umask()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            for part in _writes(data):
                handle.write(part)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


def append_line_durably(path: str | os.PathLike[str], line: str) -> None:
    """Append one line (a JSON record, say) with a single write(2) and fsync, to a file
    created ``0600``.

    Used for append-only logs such as the deactivation audit log: a record is either
    wholly present or absent, and earlier records are never rewritten.
    """
    target = Path(path)
    payload = (line.rstrip("\n") + "\n").encode("utf-8")
    try:
        _make_parents(target.parent)
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_MODE)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot append to {target}: {exc.strerror or exc}") from None


def _make_parents(directory: Path) -> None:
    """``mkdir -p``, except that a regular file in the way is "Not a directory" (mkdir says
    "File exists", which points the user at the wrong problem)."""
    for part in (*reversed(directory.parents), directory):
        if part.exists() and not part.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(part))
    directory.mkdir(parents=True, exist_ok=True)
