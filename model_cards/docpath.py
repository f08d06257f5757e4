"""Dotted paths into a card document, so the baseline, the framework maps and the diff name fields alike.

A path is keys joined by dots (``card.training_data.size``), list indexes (``performance_metrics.0``),
``*`` for every element of a list, and filters ``[key=a|b]`` that keep the list elements (or the
object) whose ``key`` equals one of the values: ``audits[kind=bias][status=succeeded]``.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)|(\.)")


def parse(path: str) -> list[tuple[str, str]]:
    """Split a path into ("key", name) and ("filter", "key=a|b") steps; raise ValueError if malformed."""
    steps: list[tuple[str, str]] = []
    pos = 0
    for match in _TOKEN.finditer(path):
        if match.start() != pos:
            raise ValueError(f"malformed path {path!r}")
        pos = match.end()
        if match.group(1) is not None:
            if "=" not in match.group(1):
                raise ValueError(f"filter without '=' in {path!r}")
            steps.append(("filter", match.group(1)))
        elif match.group(2) is not None:
            steps.append(("key", match.group(2)))
    if pos != len(path) or not steps:
        raise ValueError(f"malformed path {path!r}")
    return steps


def resolve(document: Any, path: str) -> list[Any]:
    """Every value the path reaches (several when it crosses ``*`` or a filter; none when absent)."""
    nodes = [document]
    for kind, step in parse(path):
        found: list[Any] = []
        for node in nodes:
            if kind == "filter":
                found.extend(_filter(node, step))
            elif step == "*":
                found.extend(node if isinstance(node, list) else node.values() if isinstance(node, dict) else [])
            elif isinstance(node, dict) and step in node:
                found.append(node[step])
            elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
                found.append(node[int(step)])
        nodes = found
    return nodes


def _filter(node: Any, token: str) -> list[Any]:
    key, _, values = token.partition("=")
    allowed = set(values.split("|"))
    items = node if isinstance(node, list) else [node]
    return [item for item in items if isinstance(item, dict) and _text(item.get(key)) in allowed]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def filled(value: Any) -> bool:
    """Whether a value counts as given: not None, not blank text, not an empty list or object (0 and False count)."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def is_present(document: Any, path: str) -> bool:
    """Whether any value reached by the path is filled."""
    return any(filled(value) for value in resolve(document, path))


def key_step(fields: dict[str, Any]) -> str:
    """A filter step naming a list element by its natural key, e.g. ``[name=sex]``."""
    return "".join(f"[{k}={_text(v)}]" for k, v in fields.items())
