"""A partial card read from an uploaded MLflow model, so authors start from facts instead of retyping them.

Every field filled here is listed under ``derived.fields`` so readers can tell what the authors declared
from what BOAS read in the artifact. Input is ``MLModelInfo.as_dict()`` (model_cards.mlmodel): data only.
"""

from __future__ import annotations

from typing import Any

from model_cards.patch import merge_patch

_CLASS_KEYS = ("model_class", "estimator_class", "model_type", "estimator", "class_name")
_GENERIC_FLAVOR = "python_function"
_NAME_MAX = 200
_LINE_MAX = 500
_MAX_COLUMNS = 5000
_MAX_REQUIREMENTS = 999  # plus the python version: DependenciesSchema.runtime holds 1000


def prefill_from_mlmodel(mlmodel: dict[str, Any]) -> dict[str, Any]:
    """The card fields an MLflow model documents by itself, with a ``derived`` record of what was filled."""
    card: dict[str, Any] = {}
    filled: list[str] = []

    def put(path: str, value: Any) -> None:
        section, field = path.split(".")
        card.setdefault(section, {})[field] = value
        filled.append(path)

    signature = mlmodel.get("signature") or {}
    if inputs := _columns(signature.get("inputs")):
        put("input_output.inputs", inputs)
    if outputs := _columns(signature.get("outputs")):
        put("input_output.outputs", outputs)
    if runtime := _runtime(mlmodel.get("python_version"), mlmodel.get("requirements") or []):
        put("dependencies.runtime", runtime)
    if model_type := _model_type(mlmodel.get("flavors") or {}, mlmodel.get("loader_module")):
        put("model_details.model_type", model_type)

    derived: dict[str, Any] = {"source": "mlflow", "fields": filled}
    for key in ("mlflow_version", "run_id", "model_uuid"):
        if mlmodel.get(key):
            derived[key] = str(mlmodel[key])[:100]
    card["derived"] = derived
    return card


def _columns(spec: Any) -> list[dict[str, Any]]:
    """MLflow column or tensor specs as card IO fields: name, type and whether the column is required."""
    if not isinstance(spec, list):
        return []
    out: list[dict[str, Any]] = []
    for item in spec[:_MAX_COLUMNS]:
        if not isinstance(item, dict):
            continue
        field: dict[str, Any] = {}
        if item.get("name") is not None:
            field["name"] = str(item["name"])[:_NAME_MAX]
        if kind := _type(item):
            field["type"] = kind[:_NAME_MAX]
        if isinstance(item.get("required"), bool):
            field["required"] = item["required"]
        if field:
            out.append(field)
    return out


def _type(item: dict[str, Any]) -> str:
    kind = item.get("type")
    if kind == "tensor" and isinstance(item.get("tensor-spec"), dict):
        tensor = item["tensor-spec"]
        return f"tensor({tensor.get('dtype', '?')}, shape={tensor.get('shape', '?')})"
    if kind == "array" and isinstance(item.get("items"), dict):
        return f"array<{_type(item['items']) or '?'}>"
    return str(kind) if kind is not None else ""


def _runtime(python_version: Any, requirements: list[Any]) -> list[str]:
    runtime = [f"python=={python_version}"] if python_version else []
    for line in requirements[:_MAX_REQUIREMENTS]:
        text = str(line).strip()[:_LINE_MAX]
        if text and text not in runtime:
            runtime.append(text)
    return runtime


def _model_type(flavors: dict[str, Any], loader_module: Any) -> str:
    """``"sklearn: LogisticRegression"`` when a flavor records its class, else the flavor names."""
    parts = []
    for name, conf in flavors.items():
        if name == _GENERIC_FLAVOR:
            continue
        cls = next((conf[k] for k in _CLASS_KEYS if isinstance(conf, dict) and isinstance(conf.get(k), str)), None)
        parts.append(f"{name}: {cls.rsplit('.', 1)[-1]}" if cls else name)
    if not parts and _GENERIC_FLAVOR in flavors:
        parts.append(f"{_GENERIC_FLAVOR} ({loader_module})" if loader_module else _GENERIC_FLAVOR)
    return "; ".join(parts)[:_LINE_MAX]


def initial_card(declared: dict[str, Any], mlmodel: dict[str, Any] | None,
                 previous: dict[str, Any] | None) -> dict[str, Any]:
    """A new draft's card: the previous version's (if asked), then the declared card, over MLflow facts.

    Facts read from the MLflow model fill only what the authors did not declare, and
    ``derived.fields`` lists exactly those, so readers can tell declared from derived.
    """
    card = merge_patch({k: v for k, v in (previous or {}).items() if k != "derived"}, declared)
    card.pop("derived", None)
    if not mlmodel:
        return card
    prefill = prefill_from_mlmodel(mlmodel)
    derived = prefill.pop("derived")
    merged = merge_patch(prefill, card)
    derived["fields"] = [p for p in derived["fields"]
                         if (card.get(p.split(".")[0]) or {}).get(p.split(".", 1)[1]) is None]
    merged["derived"] = derived
    return merged
