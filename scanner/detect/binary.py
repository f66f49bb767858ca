"""How the detector reads a binary input (a NUL byte in its first 8 KiB, no byte-order mark:
an image, a database, a compiled class or assembly): as ASCII, one character a byte, and,
beside it, the UTF-16 text it holds. Keys and keywords are ASCII; what stands around them in
a binary file is not text, and each reading here keeps it from joining a key.

- ``as_ascii``: the bytes themselves, each above 0x7F read as DEL (unless the input is
  UTF-8), and in a compiled Python module the bytes that frame each string constant too.
- ``wide_text``: each run of UTF-16LE ASCII text narrowed at its own offset (a .NET
  assembly's string literals, a registry hive's values, a UTF-16 database).
- ``packed_tokens``: the tokens a compiled Go or Rust program keeps side by side with the
  strings around them, each set apart (the rules' ``binary_regex``).
- ``beside``: what to scan beside an input: those two views of a binary, or the ASCII
  after a UTF-16/32 byte-order mark (``models.eight_bit_body``) of a text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from scanner.detect.corematch import is_utf8
from scanner.models import eight_bit_body, is_binary

DEL = 0x7F  # no word, space, quote or alphabet character of any rule

# Every byte above 0x7F read as DEL: like the U+FFFD that decoding puts there, but one ASCII
# byte for one byte.
_HIGH_AS_DEL = bytes(range(0x80)) + bytes([DEL]) * 0x80


def as_ascii(raw: bytes) -> bytes:
    """A binary input read one ASCII character a byte: each byte above 0x7F as DEL unless it
    is UTF-8, and a compiled Python module's string constants set apart (``_marshal_framed``);
    any other input, and a binary that needs neither, as it is (the same object). The
    vectorised pass reads the bytes themselves, where decoding 10 MB of random bytes with
    replacement characters and building their core bytes took 0.3 s."""
    if not is_binary(raw):
        return raw
    data = raw if raw.isascii() or is_utf8(raw) else raw.translate(_HIGH_AS_DEL)
    return _marshal_framed(raw, data) if _is_compiled_python(raw) else data


# UTF-16LE text with no byte-order mark: four or more characters of printable ASCII, tab, CR
# or LF, each followed by a NUL. Searched from the NUL after the first character: a literal
# first byte makes the search 20x faster on random bytes, and the three characters the run
# needs written out, 1.8x on .NET and Windows binaries.
_WIDE_CHAR = rb"[\t\n\r\x20-\x7e]\x00"
_WIDE_RUN = re.compile(rb"\x00" + _WIDE_CHAR * 3 + rb"(?:" + _WIDE_CHAR + rb")*")
_TEXT_BYTES = frozenset(b"\t\n\r" + bytes(range(0x20, 0x7F)))
_ONLY_LINE_BREAKS = bytes(b if b in (0x0A, 0x0D) else DEL for b in range(256))


def wide_text(raw: bytes) -> bytes | None:
    """The UTF-16LE text of a binary input, one byte a character, where the NUL after each
    character keeps every rule from reading it: each run narrowed at its own offset, every
    other byte DEL but CR and LF, so a finding there has the line it has in the bytes and
    nothing the bytes show is found twice. Scanned beside the bytes, which stay as they are;
    None for every other input, and for a binary that holds no such text.

    A run's first character is the one before the NUL the search starts from, unless it
    ends three or more characters, as a plain string does that the run follows (a .NET
    string's first character follows its length byte and a flag byte of 0 or 1)."""
    if not is_binary(raw):
        return None
    runs = _WIDE_RUN.finditer(raw)
    found = next(runs, None)
    if found is None:
        return None
    view = bytearray(raw.translate(_ONLY_LINE_BREAKS))
    while found is not None:
        start, end = found.span()
        at = start - 1  # the character before the NUL, the run's first unless it ends a string
        if (
            at >= 0
            and raw[at] in _TEXT_BYTES
            and (at < 2 or raw[at - 1] not in _TEXT_BYTES or raw[at - 2] not in _TEXT_BYTES)
        ):
            start = at
        else:
            start += 1
        if end == len(raw) - 1 and raw[end] in _TEXT_BYTES:
            end += 1  # the last character of UTF-16BE text: its NUL stands before it
        chars = raw[start:end:2]
        view[start:end] = chars + bytes([DEL]) * (end - start - len(chars))
        found = next(runs, None)
    return bytes(view)


# A character that joins a token to what stands before or after it.
_JOINING = frozenset(b"_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def packed_tokens(data: bytes, patterns: Sequence[re.Pattern[bytes]]) -> bytes | None:
    """The matches of ``patterns`` (the rules' ``binary_regex``: a value alone, without the
    checks around it) that a character joins on either side in ``data``, a binary input read
    as ASCII, each at its own offset; every other byte DEL but CR and LF. A compiled Go or
    Rust program keeps its strings side by side with nothing between them (Go sorts them by
    length: ``...span37252902984619140625AKIA...Egyptian_Hieroglyphs...``), where no rule's
    regex sees a token whole. The rules then read each match with its own regex, checks and
    allowlists. None when no match is joined."""
    view: bytearray | None = None
    for pattern in patterns:
        for found in pattern.finditer(data):
            start, end = found.span()
            if (start and data[start - 1] in _JOINING) or (
                end < len(data) and data[end] in _JOINING
            ):
                if view is None:
                    view = bytearray(data.translate(_ONLY_LINE_BREAKS))
                view[start:end] = data[start:end]
    return None if view is None else bytes(view)


def beside(raw: bytes, read: bytes, packed: Sequence[re.Pattern[bytes]]) -> list[bytes]:
    """What reading ``raw`` as ``read`` (``as_ascii``) hides, to scan beside it, each view at
    the offsets of the bytes: for a text, the ASCII after a UTF-16/32 byte-order mark
    (``models.eight_bit_body``); for a binary, its UTF-16 text (``wide_text``) and the
    tokens of ``packed`` its strings join (``packed_tokens``). Most inputs: none."""
    if not is_binary(raw):
        body = eight_bit_body(raw)
        return [] if body is None else [body]
    views = [wide_text(raw), packed_tokens(read, packed) if packed else None]
    return [view for view in views if view is not None]


# A compiled Python module (.pyc): a magic number ending in CR LF, then 16 bytes of header
# from Python 3.7 on (12 for 3.3-3.6, 8 before), then the module's code object, type 'c'
# (0x63, with marshal's reference flag 0xE3).
_PYC_HEADERS = (16, 12, 8)
_CODE_TYPES = (0x63, 0xE3)
# marshal's short ASCII strings ('z', interned 'Z', each also with the reference flag 0x80):
# the type byte, a one-byte length, the characters. Keys are such constants.
_SHORT_STRINGS = frozenset(b"zZ\xfa\xda")
# Printable bytes as "p", every other byte as NUL: a printable run long enough to hold a key's
# 16 characters and the next object's type byte is then found by bytes.find, 2.5x faster than
# a regex on compiled modules. Only in such a run can a constant be joined to what follows.
_AS_PRINTABLE = bytes(0x70 if b in _TEXT_BYTES else 0 for b in range(256))
_GLUED_RUN = b"p" * 17
_LINE_BREAKS = frozenset(b"\n\r")


def _is_compiled_python(raw: bytes) -> bool:
    return raw[2:4] == b"\r\n" and any(
        len(raw) > at and raw[at] in _CODE_TYPES for at in _PYC_HEADERS
    )


def _marshal_framed(raw: bytes, data: bytes) -> bytes:
    """``data``, a .pyc's bytes ``raw`` read as ASCII, with each short string constant that
    a printable byte follows set apart: that byte, and the type and length bytes of a string
    constant right after it, read as DEL (a CR or LF stays: it ends a line). marshal writes
    one object right after the other, so the next object's type letter ('c' for a code
    object, 'z' for a string, 'N' for None) stood right after a string's last character:
    ``AKIA...z(`` held no key ID a rule could see whole. Only printable runs are looked at,
    and a string only where its type and length bytes stand just before the run or at its
    start."""
    printable = raw.translate(_AS_PRINTABLE)
    out: bytearray | None = None
    begin = printable.find(_GLUED_RUN)
    while begin >= 0:
        stop = printable.find(0, begin)
        stop = len(raw) if stop < 0 else stop
        start = _first_string(raw, begin)
        while start is not None:
            end = start + raw[start - 1]
            if end >= stop:  # the string ends the run: nothing joins it
                break
            if out is None:
                out = bytearray(data)
            framing = [end, end + 1] if raw[end] in _SHORT_STRINGS and end + 1 < stop else [end]
            for at in framing:
                if raw[at] not in _LINE_BREAKS:
                    out[at] = DEL
            start = end + 2 if len(framing) == 2 else None
        begin = printable.find(_GLUED_RUN, stop)
    return data if out is None else bytes(out)


def _first_string(raw: bytes, begin: int) -> int | None:
    """Where the characters of a short string constant start, when its type and length bytes
    stand just before the printable run at ``begin`` or at its start."""
    for start in (begin, begin + 1, begin + 2):
        if start >= 2 and raw[start - 2] in _SHORT_STRINGS and raw[start - 1] > 0:
            return start
    return None
