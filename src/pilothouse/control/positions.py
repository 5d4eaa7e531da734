"""Where in a file a JSON pointer points: the line a person should open.

YAML and JSON files (JSON is YAML) are composed into nodes that remember their position;
the pointer is walked through mappings and sequences to the deepest node it reaches.
"""

from __future__ import annotations

import yaml


def line_of(text: str, pointer: str) -> int | None:
    """The 1-based line ``pointer`` (``/agents/0/name``) points at, or None."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return mark.line + 1 if mark is not None else None
    if node is None:
        return None
    for part in (p for p in pointer.split("/") if p):
        child = _child(node, part)
        if child is None:
            break
        node = child
    return int(node.start_mark.line) + 1


def _child(node: yaml.Node, part: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                found: yaml.Node = value
                return found
    elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
        child: yaml.Node = node.value[int(part)]
        return child
    return None
