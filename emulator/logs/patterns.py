"""CloudWatch Logs filter patterns for unstructured text, compiled to a predicate over a message (pure).

Supported, as CloudWatch matches them (case-sensitive, anywhere in the message):
- empty pattern or `""`: every event;
- `ERROR Exception`: every term must appear; `"Failed to process"`: a quoted phrase is one term;
- `?ERROR ?WARN`: at least one of the `?` terms must appear (besides every plain term);
- `ERROR -Exiting`: a `-` term must not appear;
- `%regex%`: the whole pattern is a regular expression searched in the message.

Not supported (rejected with `PatternError`, never silently mis-matched): JSON patterns (`{ $.x = 1 }`) and
space-delimited patterns (`[ip, user, ...]`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Matcher = Callable[[str], bool]

_TERM = re.compile(r'\s*(?P<op>[?-]?)(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s"]+))')
_ESCAPE = re.compile(r"\\(.)")


class PatternError(ValueError):
    """The filter pattern is malformed or uses a syntax this emulator does not implement."""


@dataclass(frozen=True)
class TermPattern:
    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def __call__(self, message: str) -> bool:
        return (
            all(term in message for term in self.required)
            and (not self.any_of or any(term in message for term in self.any_of))
            and not any(term in message for term in self.excluded)
        )


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if text in ("", '""'):
        return _everything
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        return _regex(text[1:-1])
    if text[0] in "{[":
        raise PatternError(
            f"Filter pattern {text[:60]!r}: JSON and space-delimited filter patterns are not supported by this "
            "emulator; use terms, quoted phrases, ?term, -term or %regex%"
        )
    return _terms(text)


def _everything(_message: str) -> bool:
    return True


def _regex(expression: str) -> Matcher:
    try:
        compiled = re.compile(expression)
    except re.error as error:
        raise PatternError(f"Invalid regular expression in filter pattern: {error}") from None
    return lambda message: compiled.search(message) is not None


def _terms(text: str) -> TermPattern:
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    position = 0
    while position < len(text):
        found = _TERM.match(text, position)
        if found is None:
            if text[position:].strip():
                raise PatternError(f"Invalid filter pattern: unbalanced quote in {text[:60]!r}")
            break
        quoted = found.group("quoted")
        term = _ESCAPE.sub(r"\1", quoted) if quoted is not None else found.group("bare")
        target = {"?": any_of, "-": excluded}.get(found.group("op"), required)
        if term:
            target.append(term)
        position = found.end()
    return TermPattern(tuple(required), tuple(any_of), tuple(excluded))
