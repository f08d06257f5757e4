"""What changed between two versions' documents: card fields, algorithm metadata and artifact files.

Paths are dotted and relative to the part they belong to (``training_data.size``). Lists of objects are
matched by a natural key when every element has one that is unique (``sensitive_attributes[name=sex]``,
metrics by name, dataset and subgroup), otherwise by position; lists of plain values compare as a whole.
"""

from __future__ import annotations

from typing import Any

from model_cards.docpath import key_step

# Tried in order; the first whose first field is on every element and whose values are unique wins.
NATURAL_KEYS: tuple[tuple[str, ...], ...] = (("path",), ("name", "dataset", "subgroup"), ("title",), ("id",))
Change = dict[str, Any]


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Field-level changes of the card and the algorithm metadata, and file-level changes of the artifact."""
    old_artifacts, new_artifacts = old.get("artifacts") or {}, new.get("artifacts") or {}
    card = _diff(old.get("card") or {}, new.get("card") or {}, "")
    algorithm = _diff(old.get("algorithm") or {}, new.get("algorithm") or {}, "")
    manifest = _manifest(old_artifacts.get("manifest") or [], new_artifacts.get("manifest") or [])
    artifacts = _diff(
        {k: v for k, v in old_artifacts.items() if k != "manifest"},
        {k: v for k, v in new_artifacts.items() if k != "manifest"},
        "",
    )
    return {
        "versions": {"old": (old.get("version") or {}).get("version"), "new": (new.get("version") or {}).get("version")},
        "card": card,
        "algorithm": algorithm,
        "manifest": manifest,
        "artifacts": artifacts,
        "changed": bool(card or algorithm or manifest or artifacts),
    }


def _diff(old: Any, new: Any, path: str) -> list[Change]:
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(set(old) | set(new), key=str):
            before, after = old.get(key), new.get(key)  # an absent key and a null value mean the same
            sub = f"{path}.{key}" if path else str(key)
            if before == after:
                continue
            if after is None:
                changes.append(_change(sub, "removed", before, None))
            elif before is None:
                changes.append(_change(sub, "added", None, after))
            else:
                changes.extend(_diff(before, after, sub))
        return changes
    if _objects(old) and _objects(new) and (old or new):
        return _diff_list(old, new, path)
    return [_change(path, "changed", old, new)]


def _diff_list(old: list[dict[str, Any]], new: list[dict[str, Any]], path: str) -> list[Change]:
    key = _natural_key(old, new)
    if key is None:
        old_map = {str(i): item for i, item in enumerate(old)}
        new_map = {str(i): item for i, item in enumerate(new)}
        step = "."
    else:
        old_map = {key_step({k: item.get(k) for k in key}): item for item in old}  # [subgroup=] when absent
        new_map = {key_step({k: item.get(k) for k in key}): item for item in new}
        step = ""
    changes: list[Change] = []
    for name in list(old_map) + [n for n in new_map if n not in old_map]:
        sub = f"{path}{step}{name}"
        if name not in new_map:
            changes.append(_change(sub, "removed", old_map[name], None))
        elif name not in old_map:
            changes.append(_change(sub, "added", None, new_map[name]))
        else:
            changes.extend(_diff(old_map[name], new_map[name], sub))
    return changes


def _natural_key(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[str, ...] | None:
    for fields in NATURAL_KEYS:
        usable = tuple(f for f in fields if any(f in item for item in old + new))
        if fields[0] not in usable or not all(fields[0] in item for item in old + new):
            continue
        if all(len({tuple(str(i.get(f)) for f in usable) for i in items}) == len(items) for items in (old, new)):
            return usable
    return None


def _manifest(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Change]:
    """Files added, removed or whose sha256 changed, by path."""
    # Keyed by whatever the stored manifest holds (a path string; None for a malformed entry, sorted as text).
    before: dict[Any, Any] = {f.get("path"): f.get("sha256") for f in old if isinstance(f, dict)}
    after: dict[Any, Any] = {f.get("path"): f.get("sha256") for f in new if isinstance(f, dict)}
    changes = []
    for path in sorted(set(before) | set(after), key=str):
        if path not in after:
            changes.append(_change(path, "removed", before[path], None))
        elif path not in before:
            changes.append(_change(path, "added", None, after[path]))
        elif before[path] != after[path]:
            changes.append(_change(path, "changed", before[path], after[path]))
    return changes


def _objects(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) for v in value)


def _change(path: str, change: str, old: Any, new: Any) -> Change:
    return {"path": path, "change": change, "old": old, "new": new}
