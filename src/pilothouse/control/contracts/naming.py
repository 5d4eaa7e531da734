"""Names for generated code: a tool's type prefix and its Python module.

Tool names may hold ``-`` and start with a digit (``^[a-zA-Z0-9_-]{1,64}$``); both
generators need identifiers, and the same tool must get the same prefix in Python and
C# so that ``search_kb`` is ``SearchKbInput`` everywhere.
"""

from __future__ import annotations

import keyword
import re


def pascal(name: str) -> str:
    """``search_kb`` / ``search-kb`` -> ``SearchKb`` (a valid identifier in both languages)."""
    words = [w for w in re.split(r"[^0-9A-Za-z]+", name) if w]
    text = "".join(w[:1].upper() + w[1:] for w in words) or "Tool"
    return f"T{text}" if text[0].isdigit() else text


def module_name(tool: str) -> str:
    """The Python module a tool's models live in (``get-ticket`` -> ``get_ticket``)."""
    text = re.sub(r"\W", "_", tool)
    if text[:1].isdigit() or keyword.iskeyword(text):
        text = f"tool_{text}"
    return text
