"""CORE's regular expressions (Python ``re``) written for the engine that runs them.

CORE rules are written for Python's ``re``; the pandas engine runs them there, Spark in Java's
``java.util.regex``. The two read much of the same text differently: Java's ``\\d`` and ``\\s`` are
ASCII (Python's are Unicode), its ``.`` and ``$`` know line terminators besides ``\\n``, its ``(?i)``
is ASCII-only, a ``[`` inside a class opens a nested class, ``{`` without a count is an error...
:func:`for_java` accepts a subset of Python's syntax whose meaning it can keep, and writes it so that
Java gives Python's verdict on every text: ``\\d`` and ``\\s`` become the classes of exactly the
characters Python's match (computed from ``re`` itself), ``(?du)`` makes ``.``/``$`` see only ``\\n``
and case folding Unicode's. Anything else raises :class:`UnportedRegex` (the rule then keeps its
pandas-only operator: no wrong answer).
"""

from __future__ import annotations

import re
import sys
import warnings
from functools import cache

ESCAPED_AS_IS = set("\\.^$*+?{}[]()|/-&#,:;<>=!\"'%@`~ _")
PLAIN_ESCAPES = {"n": "\\n", "t": "\\t", "r": "\\r", "f": "\\f"}
GROUP_OPENINGS = ("(?:", "(?i:", "(?=", "(?!")


class UnportedRegex(ValueError):
    """The pattern uses syntax :func:`for_java` cannot keep the meaning of."""


@cache
def python_class(escape: str) -> str:
    """The characters Python's ``\\d`` or ``\\s`` match, as Java class ranges (no brackets)."""
    every = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    found = sorted({ord(c) for c in re.findall(escape, every)})
    ranges, start = [], None
    for i, code in enumerate(found):
        start = code if start is None else start
        if i + 1 == len(found) or found[i + 1] != code + 1:
            ranges.append(f"\\x{{{start:X}}}" + (f"-\\x{{{code:X}}}" if code != start else ""))
            start = None
    return "".join(ranges)


def _escape(pattern: str, i: int, in_class: bool, case_insensitive: bool) -> tuple[str, int]:
    """The escape at ``pattern[i]`` (a backslash) in Java, and the index after it."""
    if i + 1 >= len(pattern):
        raise UnportedRegex("a trailing backslash")
    char = pattern[i + 1]
    if char in ESCAPED_AS_IS:
        return "\\" + char, i + 2
    if char in PLAIN_ESCAPES:
        return PLAIN_ESCAPES[char], i + 2
    if char in "ds" and not case_insensitive:
        ranges = python_class("\\" + char)
        return (ranges if in_class else f"[{ranges}]"), i + 2
    if char in "DS" and not in_class and not case_insensitive:
        return f"[^{python_class(chr(92) + char.lower())}]", i + 2
    raise UnportedRegex(f"the escape \\{char}")


def _class(pattern: str, i: int, case_insensitive: bool) -> tuple[str, int]:
    """The character class opening at ``pattern[i]`` in Java, and the index after it."""
    if case_insensitive:
        raise UnportedRegex("a character class under (?i)")
    out, j = "[", i + 1
    if j < len(pattern) and pattern[j] == "^":
        out, j = "[^", j + 1
    if j < len(pattern) and pattern[j] == "]":
        raise UnportedRegex("']' first in a class")
    while j < len(pattern) and pattern[j] != "]":
        char = pattern[j]
        if char == "\\":
            part, j = _escape(pattern, j, in_class=True, case_insensitive=False)
            out += part
            continue
        if char == "[" or pattern.startswith("&&", j):
            raise UnportedRegex(f"{char!r} inside a class (Java nests or intersects classes)")
        out += char
        j += 1
    if j >= len(pattern):
        raise UnportedRegex("an unclosed class")
    return out + "]", j + 1


def _count(pattern: str, i: int) -> tuple[str, int]:
    """The ``{m}``, ``{m,}`` or ``{m,n}`` count at ``pattern[i]``, and the index after it."""
    found = re.compile(r"\{(\d+)(,(\d*))?\}").match(pattern, i)
    if found is None or not found.group(1).isascii() or not (found.group(3) or "").isascii():
        raise UnportedRegex("a '{' that is not a count (Python reads it as text, Java fails)")
    return found.group(0), found.end()


def for_java(pattern: str) -> str:
    """``pattern`` (Python ``re`` syntax, searched: ``re.search``) written for Java's regex with the
    same verdict on every text."""
    try:
        with warnings.catch_warnings():         # "possible nested set": a '[' in a class, refused below
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(pattern)
    except re.error as exc:
        raise UnportedRegex(f"not a Python regular expression ({exc})") from exc
    out, i, groups = [], 0, []          # groups: for each open group, whether it is case-insensitive
    while i < len(pattern):
        char = pattern[i]
        case_insensitive = any(groups)
        if char == "\\":
            part, i = _escape(pattern, i, in_class=False, case_insensitive=case_insensitive)
        elif char == "[":
            part, i = _class(pattern, i, case_insensitive)
        elif char == "{":
            part, i = _count(pattern, i)
        elif char == "(":
            opening = next((o for o in GROUP_OPENINGS if pattern.startswith(o, i)), None)
            if opening is None and pattern.startswith("(?", i):
                raise UnportedRegex(f"the group {pattern[i:i + 4]!r}...")
            opening = opening or "("
            groups.append(case_insensitive or opening == "(?i:")
            part, i = opening, i + len(opening)
        elif char == ")":
            groups.pop()
            part, i = char, i + 1
        else:
            part, i = char, i + 1
        out.append(part)
    return "(?du)" + "".join(out)
