"""Typed reading of the files keysweep reads: config TOML, rule-pack YAML, baselines, reports.

In the spirit of pre-commit's ``cfgv``: a :class:`Node` is one parsed value and the dotted key
it was found at; its getters check the type (and range, choices, regex syntax and shapes that
backtrack exponentially) and return the value, or raise. What goes wrong is a
:class:`Problem` (missing, unknown key, wrong type, bad value); each file format renders it in
its own voice through the ``fail`` function it gives the root node, so every message names
the file and the dotted key::

    top = Node(data, "", fail).table({"scan", "rules"})
    size = top.at("scan").table({"max_file_size"}).at("max_file_size").integer(lo=1, default=0)

This module sits at the bottom, beside ``scanner.errors``; it imports nothing of keysweep.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypeVar, overload

ProblemKind = Literal["missing", "unknown", "type", "value"]
Fail = Callable[[str, "Problem"], Exception]  # (dotted key, problem) -> the error to raise

_T = TypeVar("_T")
_E = TypeVar("_E", bound=Enum)


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()  # the value of a key that is absent
_REQUIRED: Any = _Missing()  # no default given: absent is an error


@dataclass(frozen=True)
class Problem:
    """What is wrong with the value at a key.

    ``expected`` is what the key needs ("a list of strings"), ``got`` what it holds ("an
    integer"); ``detail`` is the full text for a ``value`` problem.
    """

    kind: ProblemKind
    expected: str = ""
    got: str = ""
    detail: str = ""

    def __str__(self) -> str:
        if self.kind == "missing":
            return "required key missing"
        if self.kind == "unknown":
            return f"unknown key (known: {self.expected})"
        if self.kind == "type":
            return f"expected {self.expected}, got {self.got}"
        return self.detail


def kind_of(value: Any) -> str:
    """How a value reads in a message: "a string", "an integer", "a list", ..."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return name
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "a table"
    if value is None:
        return "nothing (null)"
    return type(value).__name__


def join_key(key: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{key}[{name}]"
    return f"{key}.{name}" if key else name


class Node:
    """One value of a parsed file and the dotted key it sits at."""

    __slots__ = ("_fail", "key", "value")

    def __init__(self, value: Any, key: str, fail: Fail) -> None:
        self.value = value
        self.key = key
        self._fail = fail

    # ------------------------------------------------------------------ errors

    def fail(self, problem: Problem | str) -> Exception:
        """The error for this key (a plain string is a ``value`` problem)."""
        if isinstance(problem, str):
            problem = Problem("value", detail=problem)
        return self._fail(self.key, problem)

    def warn(self, text: str) -> None:
        """A one-line note naming this key, on stderr (for deprecated keys)."""
        print(f"keysweep: warning: {self.fail(text)}", file=sys.stderr)

    def _type_error(self, expected: str) -> Exception:
        return self.fail(Problem("type", expected, kind_of(self.value)))

    @property
    def present(self) -> bool:
        return self.value is not MISSING

    def _absent(self, default: Any) -> bool:
        """True when there is no value to check (absent, or null with a default); raises
        for an absent key that has no default."""
        if self.value is MISSING or (self.value is None and default is not _REQUIRED):
            if default is _REQUIRED:
                raise self.fail(Problem("missing"))
            return True
        return False

    # ------------------------------------------------------------------ tables and lists

    def table(self, known: Collection[str] | None = None, *, expected: str = "a table") -> Node:
        """This value as a mapping; with ``known``, any other key is an error."""
        if not isinstance(self.value, dict):
            raise self._type_error(expected)
        if known is not None:
            for name in self.value:
                if name not in known:
                    problem = Problem("unknown", ", ".join(sorted(known)))
                    raise self._fail(join_key(self.key, str(name)), problem)
        return self

    def at(self, name: str) -> Node:
        """The value under ``name`` of this table (``MISSING`` when absent)."""
        value = self.value.get(name, MISSING) if isinstance(self.value, dict) else MISSING
        return Node(value, join_key(self.key, name), self._fail)

    def __contains__(self, name: str) -> bool:
        return isinstance(self.value, dict) and name in self.value

    def names(self) -> Iterator[str]:
        return iter(self.value) if isinstance(self.value, dict) else iter(())

    def optional_table(self, known: Collection[str] | None = None) -> Node | None:
        """This value as a table, or None when it is absent or null."""
        if self.value is MISSING or self.value is None:
            return None
        return self.table(known)

    def items(
        self, *, non_empty: bool = False, required: bool = False, expected: str = "a list"
    ) -> list[Node]:
        """The elements of a list (absent or null: no elements, unless ``non_empty`` or
        ``required``; ``required`` accepts an empty list)."""
        if self.value is MISSING or self.value is None:
            if required and self.value is None:
                raise self._type_error(expected)
            if non_empty or required:
                raise self.fail(Problem("missing"))
            return []
        if not isinstance(self.value, list):
            raise self._type_error(expected)
        if non_empty and not self.value:
            raise self._type_error(f"a non-empty {expected.removeprefix('a ')}")
        return [Node(v, join_key(self.key, i), self._fail) for i, v in enumerate(self.value)]

    # ------------------------------------------------------------------ scalars
    # Each getter returns ``default`` when the key is absent (or null); with no default an
    # absent key is a ``missing`` problem.

    @overload
    def string(self, *, empty_ok: bool = False) -> str: ...
    @overload
    def string(self, *, default: _T, empty_ok: bool = False) -> str | _T: ...
    def string(self, *, default: Any = _REQUIRED, empty_ok: bool = False) -> Any:
        """A string (non-empty unless ``empty_ok``)."""
        if self._absent(default):
            return default
        if not isinstance(self.value, str):
            raise self._type_error("a string" if empty_ok else "a non-empty string")
        if not empty_ok and not self.value.strip():
            raise self._type_error("a non-empty string")
        return self.value

    def strings(self, *, empty_ok: bool = False) -> tuple[str, ...]:
        """A list of strings, non-empty unless ``empty_ok`` (absent or null: no strings)."""
        if self.value is MISSING or self.value is None:
            return ()
        if not isinstance(self.value, list):
            raise self._type_error("a list of strings")
        return tuple(item.string(empty_ok=empty_ok) for item in self.items())

    @overload
    def integer(
        self, *, lo: int | None = None, hi: int | None = None, expected: str = "an integer"
    ) -> int: ...
    @overload
    def integer(
        self,
        *,
        lo: int | None = None,
        hi: int | None = None,
        default: _T,
        expected: str = "an integer",
    ) -> int | _T: ...
    def integer(
        self,
        *,
        lo: int | None = None,
        hi: int | None = None,
        default: Any = _REQUIRED,
        expected: str = "an integer",
    ) -> Any:
        """An integer (a boolean is not one), within ``lo``..``hi`` when given."""
        if self._absent(default):
            return default
        value = self.value
        low = lo is not None and type(value) is int and value < lo
        high = hi is not None and type(value) is int and value > hi
        if type(value) is not int or low or high:
            raise self._type_error(expected)
        return value

    @overload
    def number(self, *, lo: float, hi: float, expected: str = "a number") -> float: ...
    @overload
    def number(
        self, *, lo: float, hi: float, default: _T, expected: str = "a number"
    ) -> float | _T: ...
    def number(
        self, *, lo: float, hi: float, default: Any = _REQUIRED, expected: str = "a number"
    ) -> Any:
        """An integer or float within ``lo``..``hi``, as a float."""
        if self._absent(default):
            return default
        value = self.value
        if type(value) not in (int, float) or not lo <= value <= hi:
            raise self._type_error(expected)
        return float(value)

    @overload
    def boolean(self) -> bool: ...
    @overload
    def boolean(self, *, default: _T) -> bool | _T: ...
    def boolean(self, *, default: Any = _REQUIRED) -> Any:
        if self._absent(default):
            return default
        if type(self.value) is not bool:
            raise self._type_error("true or false")
        return self.value

    @overload
    def choice(self, options: type[_E]) -> _E: ...
    @overload
    def choice(self, options: type[_E], *, default: _T) -> _E | _T: ...
    def choice(self, options: type[_E], *, default: Any = _REQUIRED) -> Any:
        """A string that is one of an Enum's values; returns the member."""
        if self._absent(default):
            return default
        known = ", ".join(str(m.value) for m in options)
        if not isinstance(self.value, str):
            raise self._type_error(f"one of {known}")
        text = self.value
        try:
            return options(text)
        except ValueError:
            noun = self.key.rsplit(".", 1)[-1].split("[", 1)[0] or "value"
            raise self.fail(f"unknown {noun} {text!r} (must be one of {known})") from None

    def regex(self) -> re.Pattern[str]:
        """A non-empty string that compiles as a Python regular expression."""
        text = self.string()
        try:
            compiled = re.compile(text)
        except re.error as exc:
            raise self.fail(f"bad regex: invalid regular expression: {exc}") from None
        hazards = regex_hazards(text)
        if hazards:
            # Python's re backtracks: one crafted line could stall every scan for minutes.
            raise self.fail(
                f"refused: {hazards[0]}; this can take exponential time on a short line "
                "(bound each repeat once, e.g. '(?:ab)+' -> '(?:ab){1,20}', and make "
                "alternatives start differently)"
            )
        return compiled


# --------------------------------------------------------------------------- regex lint


# A problem whose text starts with one of these can take exponential time on a short line:
# a pack holding one is refused at load time (``regex_hazards``). The others (unbounded
# quantifiers) are polynomial at worst; the detector runs those rules line by line under a
# length cap and ``rules check`` warns about them.
_EXPONENTIAL = ("nested quantifier", "overlapping alternation")
_ANY = None  # a first-character set that may hold anything
# What ``\s`` matches in a str pattern (the characters for which str.isspace() is true).
_SPACE = frozenset((*range(9, 14), *range(28, 33), 133, 160, 5760, *range(8192, 8203)))
_SPACE = _SPACE | frozenset((8232, 8233, 8239, 8287, 12288))


def regex_problems(pattern: str) -> list[str]:
    """Unbounded (``*``, ``+``, ``{n,}``) and nested quantifiers, and alternations inside a
    repeat whose branches can start alike: backtracking risks."""
    return list(_regex_problems(pattern))


@functools.lru_cache(maxsize=1024)
def _regex_problems(pattern: str) -> tuple[str, ...]:
    """``regex_problems``, worked out once per pattern: loading a pack asks for each regex's
    hazards, and the detector again for each rule's (20 ms of a pre-commit hook's start)."""
    parser: Any = importlib.import_module("re._parser")
    constants: Any = importlib.import_module("re._constants")
    try:
        parsed = parser.parse(pattern)
    except re.error as exc:
        return (f"does not compile: {exc}",)
    repeat_ops = {constants.MAX_REPEAT, constants.MIN_REPEAT}
    possessive = getattr(constants, "POSSESSIVE_REPEAT", None)
    if possessive is not None:
        repeat_ops.add(possessive)
    problems: list[str] = []

    def first_chars(items: Any) -> frozenset[int] | None:
        """Characters a sequence can start with; ``_ANY`` when unknown or possibly empty."""
        if not items:
            return _ANY
        op, av = items[0]
        if op == constants.LITERAL:
            return frozenset((av,))
        if op == constants.IN:
            chars: set[int] = set()
            for item_op, item_av in av:
                if item_op == constants.LITERAL:
                    chars.add(item_av)
                elif item_op == constants.RANGE and item_av[1] - item_av[0] < 4096:
                    chars.update(range(item_av[0], item_av[1] + 1))
                elif item_op == constants.CATEGORY and item_av == constants.CATEGORY_SPACE:
                    chars.update(_SPACE)
                else:  # NEGATE, other categories, huge ranges: could be anything
                    return _ANY
            return frozenset(chars)
        if op == constants.SUBPATTERN:
            return first_chars(av[3])
        if op in repeat_ops and av[0] > 0:
            return first_chars(av[2])
        return _ANY

    def overlapping(branches: Any) -> bool:
        seen: set[int] = set()
        for branch in branches:
            chars = first_chars(branch)
            if chars is _ANY or seen & chars:
                return True
            seen |= chars
        return False

    def walk(items: Any, inside_repeat: bool) -> None:
        for op, av in items:
            if op in repeat_ops:
                lo, hi, sub = av
                if hi == constants.MAXREPEAT:
                    problems.append(f"unbounded quantifier {{{lo},}} (use an upper bound)")
                if inside_repeat and hi != 1:
                    problems.append("nested quantifier (a repeat inside a repeat)")
                walk(sub, inside_repeat or hi > 1)
            elif op == constants.SUBPATTERN:
                walk(av[3], inside_repeat)
            elif op == constants.BRANCH:
                if inside_repeat and overlapping(av[1]):
                    problems.append(
                        "overlapping alternation inside a repeat (branches can match the same text)"
                    )
                for branch in av[1]:
                    walk(branch, inside_repeat)
            elif op in (constants.ASSERT, constants.ASSERT_NOT):
                walk(av[1], inside_repeat)
            elif op == getattr(constants, "ATOMIC_GROUP", None):
                walk(av, inside_repeat)
            elif op == constants.GROUPREF_EXISTS:
                walk(av[1], inside_repeat)
                if av[2] is not None:
                    walk(av[2], inside_repeat)

    walk(parsed, False)
    return tuple(sorted(set(problems)))


def regex_hazards(pattern: str) -> list[str]:
    """The problems of ``pattern`` that make matching exponential in the line length."""
    return [p for p in regex_problems(pattern) if p.startswith(_EXPONENTIAL)]
