"""Secret references: bundles and settings name secrets, they never hold them.

A reference is ``env:NAME`` (an environment variable) or ``file:PATH`` (a file's content,
trailing newline removed); anything else is taken as the literal value, which settings
files may use for local development.
"""

from __future__ import annotations

import os
from pathlib import Path

from pilothouse.errors import InvalidRequest


def resolve_secret(reference: str) -> str:
    """The secret a reference points at; raises ``InvalidRequest`` if it is missing."""
    if reference.startswith("env:"):
        name = reference[4:]
        value = os.environ.get(name)
        if value is None:
            raise InvalidRequest(f"Secret reference env:{name} names an unset variable.")
        return value
    if reference.startswith("file:"):
        path = Path(reference[5:])
        try:
            return path.read_text().rstrip("\n")
        except OSError as exc:
            raise InvalidRequest(f"Secret reference file:{path} cannot be read: {exc}.") from None
    return reference
