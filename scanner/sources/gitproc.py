"""Running git safely on repositories that may be hostile.

Every git process keysweep starts goes through this module. The rules:

- Nothing configured in the scanned repository is executed: no fsmonitor, hooks, external diff,
  textconv, filters, pager, GPG, credential helpers or transports (``-c`` overrides below, plus
  ``--no-ext-diff --no-textconv`` on diff-producing commands; keysweep never checks anything out).
- Nothing is written to the scanned repository: ``GIT_OPTIONAL_LOCKS=0`` (no index refresh, no
  lock files), no maintenance, no lazy fetch of missing objects in partial clones
  (``GIT_NO_LAZY_FETCH=1`` on git >= 2.44, and every transport disallowed, which makes the lazy
  fetch fail on older git instead of running anything).
- Only ``clone`` may use the network, and only over https, http, ssh, git and file.
- The system git config is ignored (``GIT_CONFIG_NOSYSTEM``); the user's own global config is
  theirs to trust. git never prompts (``GIT_TERMINAL_PROMPT=0``).

Failures raise :class:`~scanner.errors.GitError` with one line: ``WHAT: problem``.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import IO

from scanner.errors import GitError, how_ended

# -c overrides applied to every git command (they also reach git's own child processes through
# GIT_CONFIG_PARAMETERS, e.g. the fetch a partial clone would start).
SAFE_CONFIG: tuple[str, ...] = (
    "core.fsmonitor=false",
    "core.hooksPath=/dev/null",
    "core.untrackedCache=false",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=",
    "credential.helper=",
    "diff.external=",
    "log.showSignature=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "fetch.writeCommitGraph=false",
    "color.ui=false",
    "protocol.allow=never",
)

# Transports a `keysweep history URL` clone may use. `ext::` (runs a command) stays forbidden.
CLONE_PROTOCOLS: tuple[str, ...] = ("https", "http", "ssh", "git", "file")

# Variables from the caller's environment that would point git somewhere else. `keysweep staged`
# keeps them (git sets GIT_INDEX_FILE for `git commit -a` / `git commit PATH` hooks); `history`
# on an explicit path drops them.
REDIRECTING_ENV: tuple[str, ...] = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
)


# -c overrides that bound the memory of git commands reading much of the object database.
# git's cache of inflated delta bases defaults to 96 MiB per process; pack files are mapped in
# windows of up to 1 GiB, 8 GiB in all, and every mapped page that is touched counts in the
# process's resident memory: on aws/aws-cli's 476 MB pack, `rev-list --objects` reached 432 MB
# and `log --raw` 446 MB, and the process tree 536 MB before the scan began.
#
# The blob readers (`cat-file --batch`, one per worker, while the scan runs): blobs are read in
# pack order, where a base comes just before its deltas, so a quarter of the delta cache still
# holds most bases; 16 MiB of 4 MiB windows read half of aws-cli's blobs in the same 8.3 s
# with 84 MB resident instead of 97 MB. A 24 MiB cache instead of 32 took aws-cli's process
# tree from 300-320 MB to under 300 MB for about 0.5 s more of git's CPU time on moto. Windows
# of 1 MiB instead of 4 read moto's blobs with 0.3 s less CPU (5.04-5.09 s against 5.37-5.39 s,
# one reader, all system time: fewer pages mapped and unmapped), aws-cli's in the same time.
# A 20 MiB cache and 12 MiB of windows instead of 24 and 16 (one reader over half the blobs,
# pack order): aws-cli's reader 63 MB resident instead of 71 for 0.1-0.2 s more CPU of its
# 8.5, localstack's 61 instead of 73 and moto's 65 instead of 73 in the same time; with 24
# and 16, aws-cli's process tree peaked at 297-307 MB.
READER_MEMORY_LIMITS = (
    "-c",
    "core.deltaBaseCacheLimit=20m",
    "-c",
    "core.packedGitLimit=12m",
    "-c",
    "core.packedGitWindowSize=1m",
)
# Without Hyperscan a blob takes twice as long to scan and reading is a small part of the time:
# a 12 MiB delta cache (the readers 27-35 MB instead of 50) kept aws/aws-cli's process tree
# under 300 MB (292 MB with ``heap.map_large_blocks``) for 2-3 s more of its 110 s.
LEAN_READER_MEMORY_LIMITS = (
    "-c",
    "core.deltaBaseCacheLimit=12m",
    *READER_MEMORY_LIMITS[2:],
)
# The passes before the scan (the walk, the missing-blob pass, the listing) jump about the
# pack (trees, and the base of each delta for its type): 4 MiB windows made the listing three
# times slower (moto: 0.25 s -> 0.8 s, all system time). 96 MiB of 32 MiB windows: the walk
# 78-97 MB resident, the listing 76-110 MB, each in about its time without limits.
WALK_MEMORY_LIMITS = (
    "-c",
    "core.deltaBaseCacheLimit=32m",
    "-c",
    "core.packedGitLimit=96m",
    "-c",
    "core.packedGitWindowSize=32m",
)


NO_GIT = "git: command not found (install git to scan repositories)"


def git_env(*, keep_redirects: bool) -> dict[str, str]:
    """The environment every keysweep git process runs with."""
    env = dict(os.environ)
    if not keep_redirects:
        for name in REDIRECTING_ENV:
            env.pop(name, None)
    for name in ("GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS"):
        env.pop(name, None)
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_LAZY_FETCH="1",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_PAGER="cat",
        LC_ALL="C",
    )
    return env


def git_argv(repo: str | None, args: Sequence[str], *, clone: bool = False) -> list[str]:
    argv = ["git", "--no-pager", "--literal-pathspecs"]
    config: list[str] = list(SAFE_CONFIG)
    if clone:
        config += [f"protocol.{name}.allow=always" for name in CLONE_PROTOCOLS]
        config.append("protocol.ext.allow=never")
    for item in config:
        argv += ["-c", item]
    if repo is not None:
        argv += ["-C", repo]
    argv += args
    return argv


def how_git_ended(returncode: int) -> str:
    """What to say of a git that failed without a word (``how_ended``)."""
    how = how_ended(returncode)
    return f"git was {how}" if returncode < 0 else f"git failed ({how})"


def first_line(stderr: bytes, default: str = "git failed") -> str:
    """git's last message line, without the ``fatal:``/``error:`` prefix."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if not lines:
        return default
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line.split(":", 1)[1].strip()
    return lines[-1]


class Git:
    """git commands against one repository (``repo`` None = the current directory)."""

    def __init__(self, repo: str | None, *, keep_redirects: bool = False) -> None:
        self.repo = repo
        self.label = repo or "."
        self.env = git_env(keep_redirects=keep_redirects)

    def argv(self, *args: str) -> list[str]:
        return git_argv(self.repo, args)

    def run(
        self, *args: str, input: bytes | None = None, check: bool = True, what: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run git to completion. ``check`` raises GitError (``WHAT: git's message``)."""
        try:
            proc = subprocess.run(
                self.argv(*args),
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                env=self.env,
                check=False,
            )
        except FileNotFoundError:
            raise GitError(NO_GIT) from None
        if check and proc.returncode != 0:
            reason = first_line(proc.stderr, how_git_ended(proc.returncode))
            raise GitError(f"{what or self.label}: {reason}")
        return proc

    def out(self, *args: str, what: str | None = None) -> bytes:
        return self.run(*args, what=what).stdout

    @contextmanager
    def stream(self, *args: str, feed: bool = False) -> Iterator[Stream]:
        """A long-running git process; ended (with its children) on any exit from the block.

        ``feed`` gives it a stdin pipe. stderr goes to a temporary file, so a chatty git can
        never block on a full pipe and its message is there for the error.
        """
        with tempfile.TemporaryFile() as errors:
            try:
                proc = subprocess.Popen(
                    self.argv(*args),
                    stdin=subprocess.PIPE if feed else subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                    env=self.env,
                    bufsize=1 << 20,
                    # Own process group: Ctrl-C reaches keysweep, which then ends git itself.
                    start_new_session=True,
                )
            except FileNotFoundError:
                raise GitError(NO_GIT) from None
            assert proc.stdout is not None
            widen_pipe(proc.stdout)
            stream = Stream(proc, errors)
            try:
                yield stream
            finally:
                stream.stop()


# git's output crosses the pipe in 1 MiB steps instead of the kernel's 64 KiB: getmoto/moto's
# blobs (4.1 GiB) were read with 0.6 s less CPU between git and keysweep, and its ordered walk
# (42 MB of ``git log --raw``) took 1.05 s instead of 1.65 s: with 64 KiB, git waited on every
# chunk keysweep parsed, and keysweep on git.
PIPE_BYTES = 1 << 20


def widen_pipe(pipe: IO[bytes]) -> None:
    """Ask the kernel for a larger pipe buffer where it allows one (Linux); else leave it."""
    setsize: int | None = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None:
        return
    with suppress(OSError, ValueError):
        fcntl.fcntl(pipe.fileno(), setsize, PIPE_BYTES)


class Stream:
    """A running git process: read ``stdout``, write ``stdin``, then ``finish()``."""

    def __init__(self, proc: subprocess.Popen[bytes], errors: IO[bytes]) -> None:
        self.proc = proc
        self._errors = errors
        assert proc.stdout is not None
        self.stdout: IO[bytes] = proc.stdout
        self.stdin: IO[bytes] | None = proc.stdin

    def feed(self, data: bytes) -> None:
        """Write ``data`` to git's stdin and close it. A git that ended early (killed, or an
        error) takes nothing more: ``finish`` says why. (Its BrokenPipeError reached the
        command line, which took it for a closed stdout and exited 2 without a word.)"""
        if self.stdin is None:
            return
        try:
            self.stdin.write(data)
            self.stdin.close()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def finish(self, what: str) -> None:
        """After reading stdout to its end: raise GitError (``WHAT: message``) if git failed."""
        if (code := self.proc.wait()) != 0:
            raise GitError(f"{what}: {first_line(self.stderr(), how_git_ended(code))}")

    def stderr(self) -> bytes:
        self._errors.seek(0)
        return self._errors.read(64 * 1024)

    def stop(self) -> None:
        """End git if it still runs and reap it (no zombies, no stray readers or writers)."""
        proc = self.proc
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with suppress(OSError):
                    pipe.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process started with ``start_new_session`` and every process in its group,
    reap it, and wait (briefly) until the group is gone: no git survives keysweep, and none
    writes into a directory that is about to be removed."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for _ in range(100):  # helpers of git, reparented: gone within milliseconds of SIGTERM
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def clone_mirror(url: str, dest: str) -> None:
    """``git clone --mirror URL DEST`` with the transport restrictions above; no checkout."""
    argv = git_argv(
        None, ["clone", "--mirror", "--quiet", "--no-local", "--", url, dest], clone=True
    )
    env = git_env(keep_redirects=False)
    try:
        # Own process group, so a stop (Ctrl-C, SIGTERM, SIGHUP: any exception here) ends
        # git *and* its helpers (remote-https, index-pack, upload-pack) before the caller
        # removes the half-written mirror.
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise GitError(NO_GIT) from None
    try:
        stdout, stderr = child.communicate()
    except BaseException:
        stop_process_group(child)
        raise
    proc = subprocess.CompletedProcess(argv, child.returncode, stdout, stderr)
    if proc.returncode != 0:
        message = first_line(proc.stderr).replace(url, redact_url(url))
        raise GitError(f"{redact_url(url)}: cannot clone: {message}")


def redact_url(url: str) -> str:
    """A URL without user-info (``https://user:token@host`` must not reach a log)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    elif "@" in path and ":" in rest[: rest.index("@")]:
        # A password with an unescaped "/" ("https://u:pa/ss@host/repo") splits the authority
        # early; hide everything up to the last "@" rather than show part of it (found by
        # bench/fuzz_git_parsers.py).
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return f"{scheme}://{host}{slash}{path}"
