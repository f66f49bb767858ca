"""The allowlist: things that are never findings, at rule level (a rule pack's ``allowlist``)
and at project level (the config's ``[allowlist]``). One schema, one type, one glob dialect.

    allowlist:
      regexes:                      # a bare string targets the secret
        - 'EXAMPLE$'
        - {regex: '^# example', target: line}     # target: secret | match | line
      stopwords: [dummy, example]   # case-insensitive substrings of the secret
      paths: ['docs/examples/**', '*.lock']       # gitignore-style globs, repository-relative

``pattern`` is the rule packs' old name for ``regex``: still read, with a deprecation note.

Path globs (rule ``paths`` and allowlist ``paths``, config ``scan.skip_paths``): ``**`` spans
directories, ``*`` and ``?`` stay within one path segment, ``[abc]`` is a character class. A
glob without ``/`` matches a file or directory name at any depth (as in ``.gitignore``); a
match on a directory covers everything under it.

This module sits at the bottom, beside ``scanner.schema``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath, PureWindowsPath

from scanner.schema import Node


class AllowTarget(StrEnum):
    """What an allowlist regex is matched against."""

    SECRET = "secret"
    MATCH = "match"
    LINE = "line"


ALLOWLIST_KEYS = frozenset({"regexes", "stopwords", "paths"})
_ALLOW_REGEX_KEYS = frozenset({"regex", "target", "pattern"})
_DEPRECATED_REGEX_KEY = "pattern"


@dataclass(frozen=True)
class AllowRegex:
    """An allowlist regex and what it is matched against: secret, match or line."""

    pattern: re.Pattern[str]
    target: AllowTarget = AllowTarget.SECRET


@dataclass(frozen=True)
class Allowlist:
    """Things that are never findings: regexes (with a target), stopwords, path globs.

    Stopwords are compared case-insensitively as substrings of the secret.
    """

    regexes: tuple[AllowRegex, ...] = ()
    stopwords: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # globs, repository-relative
    _path_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stopwords", tuple(w.lower() for w in self.stopwords))
        object.__setattr__(self, "_path_re", compile_globs(self.paths))

    @property
    def empty(self) -> bool:
        return not (self.regexes or self.stopwords or self.paths)

    def path_allowed(self, path: str) -> bool:
        """True when ``path`` matches one of the allowlisted globs."""
        return self._path_re is not None and globs_match(self._path_re, path)

    def allows(self, secret: str, match: str, line: str) -> bool:
        """True when the allowlist says this candidate is not a finding."""
        if self.stopwords:
            low = secret.lower()
            if any(word in low for word in self.stopwords):
                return True
        for allow in self.regexes:
            target = (
                secret if allow.target == "secret" else match if allow.target == "match" else line
            )
            if allow.pattern.search(target):
                return True
        return False

    def merged(self, other: Allowlist) -> Allowlist:
        return Allowlist(
            regexes=self.regexes + other.regexes,
            stopwords=self.stopwords + other.stopwords,
            paths=self.paths + other.paths,
        )

    def without_paths(self) -> Allowlist:
        return Allowlist(regexes=self.regexes, stopwords=self.stopwords)


def parse_allowlist(node: Node) -> Allowlist:
    """Read an allowlist table (rule pack or config) at ``node``."""
    table = node.table(ALLOWLIST_KEYS)
    regexes: list[AllowRegex] = []
    for item in table.at("regexes").items(expected="a list of regexes or tables"):
        if isinstance(item.value, str):  # shorthand: a bare regex targets the secret
            regexes.append(AllowRegex(item.regex()))
            continue
        entry = item.table(_ALLOW_REGEX_KEYS, expected="a regex or a table {regex, target}")
        name = "regex"
        if _DEPRECATED_REGEX_KEY in entry:
            if "regex" in entry:
                raise entry.at(_DEPRECATED_REGEX_KEY).fail("give regex or pattern, not both")
            name = _DEPRECATED_REGEX_KEY
            entry.at(name).warn("deprecated key: use 'regex' (the same value)")
        pattern = entry.at(name).regex()
        target = entry.at("target").choice(AllowTarget, default=AllowTarget.SECRET)
        regexes.append(AllowRegex(pattern, target))
    stopwords = table.at("stopwords").strings()
    paths = path_globs(table.at("paths"))
    return Allowlist(regexes=tuple(regexes), stopwords=stopwords, paths=paths)


def path_globs(node: Node) -> tuple[str, ...]:
    """A list of repository-relative globs (an absolute path is an error)."""
    globs = node.strings()
    for index, glob in enumerate(globs):
        if is_absolute(glob):
            raise node.items()[index].fail(
                "absolute paths are not allowed; use a glob relative to the repository root"
            )
    return globs


def is_absolute(value: str) -> bool:
    return (
        value.startswith(("/", "\\", "~"))
        or PurePosixPath(value).is_absolute()
        or PureWindowsPath(value).is_absolute()
        or bool(PureWindowsPath(value).drive)
    )


# --------------------------------------------------------------------------- path globs

_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def glob_to_regex(glob: str) -> str:
    """Translate a path glob into a regex matching repository-relative ``/`` paths."""
    pattern = glob.strip().removeprefix("./")
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.rstrip("/")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                out.append(re.escape(ch))
                i += 1
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    body = "".join(out)
    lead = "" if anchored else "(?:[^/]+/)*"
    return f"{lead}{body}(?:/.*)?"


def compile_globs(globs: Sequence[str]) -> re.Pattern[str] | None:
    """One regex for a list of path globs (None for no globs); use with :func:`globs_match`."""
    if not globs:
        return None
    return re.compile("|".join(f"(?:{glob_to_regex(g)})" for g in globs), re.DOTALL)


def globs_match(compiled: re.Pattern[str], path: str) -> bool:
    """A file inside an archive (``ARCHIVE!MEMBER``, scanner.archives) matches what its
    archive or the member's own path matches: ``*.zip`` skips every file of ``lambda.zip``,
    and a rule scoped to ``.env`` reads ``bundle.zip!.env``."""
    normal = path.replace("\\", "/").removeprefix("./").lstrip("/")
    if compiled.fullmatch(normal) is not None:
        return True
    if "!" not in normal:
        return False
    outer, member = normal.split("!", 1)[0], normal.rsplit("!", 1)[1].lstrip("/")
    return compiled.fullmatch(outer) is not None or compiled.fullmatch(member) is not None


def path_matches(path: str, glob: str) -> bool:
    """True when a repository-relative path matches one glob."""
    compiled = _GLOB_CACHE.get(glob)
    if compiled is None:
        compiled = re.compile(glob_to_regex(glob), re.DOTALL)
        _GLOB_CACHE[glob] = compiled
    return globs_match(compiled, path)
