"""Cedar policy text cut into single policies, each knowing the line it starts on.

Cedar's parser reports *what* is wrong but not *where*, and numbers policies by position
(``policy0``, ``policy1``, ...), which means nothing to the person who has to fix a
file. This module cuts a file into one text per policy (a policy ends at a ``;`` outside
string literals and ``//`` comments, the only places Cedar allows a stray ``;``), so each
policy can be parsed alone, named after its file and line, and a syntax error placed on
the line that holds it (:func:`error_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_END_OF_INPUT = "unexpected end of input"
_TOKEN_ERRORS = ("unexpected token", "invalid token", _END_OF_INPUT)
_QUOTED = re.compile(r"`([^`]+)`")
_AFTER_COLON = re.compile(r":\s*(\S+)\s*$")
# A string literal (possibly unterminated), a comment, a semicolon, blanks, or other code.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|//[^\n]*|;|\s+|[^"/;\s]+|/', re.DOTALL)


@dataclass(frozen=True, slots=True)
class PolicyText:
    """The source of one policy.

    Attributes:
        text: The policy's text from its first token through its ``;`` (comments inside
            kept, so that error lines can be counted within it).
        line: The 1-based line of the file on which the policy's first token stands.
        index: The position of the policy in its file, from 0.
    """

    text: str
    line: int
    index: int


def split_policies(source: str) -> list[PolicyText]:
    """Cut ``source`` into policies; trailing text without a ``;`` is returned as a last
    (unterminated) policy so that the parser can complain about it."""
    policies: list[PolicyText] = []
    start: int | None = None
    for token in _TOKEN.finditer(source):
        text = token.group()
        if text.isspace() or text.startswith("//"):
            continue
        if start is None:
            start = token.start()
        if text == ";":
            policies.append(_policy(source, start, token.end(), len(policies)))
            start = None
    if start is not None:
        policies.append(_policy(source, start, len(source), len(policies)))
    return policies


def _policy(source: str, start: int, end: int, index: int) -> PolicyText:
    return PolicyText(source[start:end].rstrip(), source.count("\n", 0, start) + 1, index)


def error_line(policy: PolicyText, message: str, parse: Callable[[str], str | None]) -> int:
    """The file line on which the parse error ``message`` of ``policy`` most likely is.

    Token errors are placed by parsing ever longer prefixes of the policy, one line more
    each time: the first prefix that fails with something other than "unexpected end of
    input" ends on the offending line. Other errors (an unknown method, a bad variable)
    quote the culprit, which is looked up in the text. Failing both, the policy's first
    line is the answer.

    Args:
        policy: The policy that failed to parse.
        message: The parser's message.
        parse: Parses a text and returns its error message, or None when it parses.
    """
    lines = policy.text.split("\n")
    if message.startswith(_TOKEN_ERRORS):
        for count in range(1, len(lines) + 1):
            error = parse("\n".join(lines[:count]))
            if error is not None and not error.startswith(_END_OF_INPUT):
                return policy.line + count - 1
        return policy.line + len(lines) - 1
    for culprit in _culprits(message):
        for offset, text in enumerate(lines):
            if culprit in _code(text):
                return policy.line + offset
    return policy.line


def _culprits(message: str) -> list[str]:
    quoted = _QUOTED.findall(message)
    if quoted:
        return quoted
    tail = _AFTER_COLON.search(message)
    return [tail.group(1)] if tail else []


def _code(line: str) -> str:
    """A line without its ``//`` comment (a comment quoting the culprit is no culprit).
    Approximate: a ``//`` inside a string literal also cuts, which only costs a fallback."""
    return line.split("//", 1)[0]
