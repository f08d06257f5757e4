"""Read an extracted MLflow model directory as data.

The web process must stay safe and fast, so this never imports mlflow, never unpickles and
never imports model code: it parses ``MLmodel`` with ``yaml.safe_load`` and checks that every
path it references stays inside the model directory (the MLflow CVE-2023-1177 /
CVE-2024-1483 class of path traversal through model metadata).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import posixpath
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from registry_db.errors import ValidationFailed

MAX_MLMODEL_BYTES = 1024 * 1024
MAX_REQUIREMENTS_BYTES = 1024 * 1024
_MAX_NODES = 50_000  # YAML aliases can make a small document expand into a huge graph
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Keys whose string values are file paths inside the model directory.
_PATH_KEYS = {"env", "model_path", "pickled_model", "python_model", "code", "model_code_path"}
_PATH_SUFFIXES = ("path", "_data", "_file", "_dir")
_PATH_NAMES = {"data", "file", "dir"}
_SKIP_KEYS = {"metadata"}  # free-form user data, not model layout
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".cloudpickle", ".dill", ".pt", ".pth")
PICKLE_FORMATS = {"pickle", "cloudpickle", "joblib"}


@dataclass(frozen=True)
class MLModelInfo:
    flavors: dict[str, dict]  # flavor name -> its config from MLmodel (as data)
    loader_module: str | None  # python_function.loader_module
    python_version: str | None
    serialization_format: str | None  # e.g. "cloudpickle"/"pickle"/"skops"
    signature: dict | None  # {"inputs": [...], "outputs": [...], "params": [...]}
    input_example: dict | None  # MLmodel saved_input_example_info, if any
    requirements: list[str]  # requirements.txt lines, comments and blanks dropped
    mlflow_version: str | None
    model_uuid: str | None
    run_id: str | None
    utc_time_created: str | None
    referenced_paths: list[str]  # every path MLmodel references, relative POSIX, verified inside the dir
    pickled_files: list[str]  # pickle-based files (by name or flavor format), for later scanning

    def as_dict(self) -> dict:
        """JSON-serialisable view, for storing alongside the model version."""
        return dataclasses.asdict(self)


def _fail(field: str, message: str, problems: list[str] | None = None) -> ValidationFailed:
    return ValidationFailed(message, errors={field: problems or [message]})


def read_mlmodel(model_dir: Path, field: str = "model") -> MLModelInfo:
    """Parse and validate ``model_dir/MLmodel`` without executing anything from the model."""
    model_dir = Path(model_dir)
    doc = _load_yaml(model_dir, field)
    flavors = doc.get("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise _fail(field, "MLmodel has no 'flavors' mapping")
    bad = [str(name) for name, conf in flavors.items() if not isinstance(conf, dict)]
    if bad:
        raise _fail(field, f"MLmodel flavor {bad[0]!r} is not a mapping")
    flavors = {str(k): v for k, v in _jsonable(flavors).items()}
    example = doc.get("saved_input_example_info")
    if example is not None and not isinstance(example, dict):
        raise _fail(field, "MLmodel saved_input_example_info is not a mapping")
    example = _jsonable(example) if example is not None else None

    refs: list[tuple[str, str, str | None]] = []  # (key path, value, flavor)
    for name, conf in flavors.items():
        _collect(conf, f"flavors.{name}", refs, flavor=name)
    if example is not None:
        _collect(example, "saved_input_example_info", refs, flavor=None)
    referenced, problems = _verify_refs(model_dir, refs)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise _fail(field, problems[0] + more, problems)

    pyfunc = flavors.get("python_function", {})
    return MLModelInfo(
        flavors=flavors,
        loader_module=_str_or_none(pyfunc.get("loader_module")),
        python_version=_str_or_none(pyfunc.get("python_version")),
        serialization_format=_serialization_format(flavors),
        signature=_signature(doc.get("signature"), field),
        input_example=example,
        requirements=_requirements(model_dir, field),
        mlflow_version=_str_or_none(doc.get("mlflow_version")),
        model_uuid=_str_or_none(doc.get("model_uuid")),
        run_id=_str_or_none(doc.get("run_id")),
        utc_time_created=_str_or_none(doc.get("utc_time_created")),
        referenced_paths=sorted({path for path, _, _ in referenced}),
        pickled_files=_pickled_files(model_dir, flavors, referenced),
    )


def _load_yaml(model_dir: Path, field: str) -> dict:
    path = model_dir / "MLmodel"
    if path.is_symlink():
        raise _fail(field, "MLmodel must be a regular file, not a symbolic link")
    if not path.is_file():
        raise _fail(field, "MLmodel file not found at the root of the archive")
    if path.stat().st_size > MAX_MLMODEL_BYTES:
        raise _fail(field, f"MLmodel is larger than {MAX_MLMODEL_BYTES} bytes")
    with open(path, "rb") as fh:
        raw = fh.read(MAX_MLMODEL_BYTES + 1)
    if len(raw) > MAX_MLMODEL_BYTES:
        raise _fail(field, f"MLmodel is larger than {MAX_MLMODEL_BYTES} bytes")
    try:
        doc = yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _fail(field, "MLmodel is not valid UTF-8 text") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise _fail(field, f"MLmodel is not valid YAML{at}: {reason}") from None
    except RecursionError:
        raise _fail(field, "MLmodel is nested too deeply") from None
    if not isinstance(doc, dict):
        raise _fail(field, f"MLmodel must be a YAML mapping, not {type(doc).__name__}")
    _check_size(doc, field)
    return doc


def _check_size(doc: Any, field: str) -> None:
    """Count nodes, visiting shared (aliased) nodes each time, to refuse billion-laughs documents."""
    stack, seen = [doc], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            raise _fail(field, f"MLmodel is too complex (more than {_MAX_NODES} values)")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple, set)):
            stack.extend(node)


def _jsonable(value: Any) -> Any:
    """Turn YAML-only types (timestamps, sets, binary, NaN) into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, set):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_path_key(key: str) -> bool:
    low = key.lower()
    return low in _PATH_KEYS or low in _PATH_NAMES or low.endswith(_PATH_SUFFIXES)


def _collect(
    node: Any,
    where: str,
    refs: list[tuple[str, str, str | None]],
    flavor: str | None,
    all_strings: bool = False,
) -> None:
    """Gather (key, value) pairs that name files; under env/artifacts every string is a path."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SKIP_KEYS:
                continue
            low, sub = key.lower(), f"{where}.{key}"
            if isinstance(value, str):
                if all_strings or _is_path_key(key):
                    refs.append((sub, value, flavor))
            elif low == "env":
                _collect(value, sub, refs, flavor, all_strings=True)
            elif low == "artifacts" and isinstance(value, dict):
                for name, art in value.items():  # {name: "path"} or {name: {path: ..., uri: <origin>}}
                    if isinstance(art, str):
                        refs.append((f"{sub}.{name}", art, flavor))
                    else:
                        _collect(art, f"{sub}.{name}", refs, flavor)
            elif isinstance(value, list) and (all_strings or _is_path_key(key)):
                _collect(value, sub, refs, flavor, all_strings=True)
            else:
                _collect(value, sub, refs, flavor, all_strings=all_strings)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, str):
                if all_strings:
                    refs.append((f"{where}[{i}]", item, flavor))
            else:
                _collect(item, f"{where}[{i}]", refs, flavor, all_strings=all_strings)


def _verify_refs(
    model_dir: Path, refs: list[tuple[str, str, str | None]]
) -> tuple[list[tuple[str, str, str | None]], list[str]]:
    """Each reference must be a relative path that resolves inside model_dir and exists."""
    root = model_dir.resolve()
    ok: list[tuple[str, str, str | None]] = []  # (normalised path, key, flavor)
    problems: list[str] = []
    for key, value, flavor in refs:
        label = f"MLmodel {key}: {value!r}"
        if value == "":
            problems.append(f"{label} is an empty path")
        elif "\x00" in value or "\\" in value:
            problems.append(
                f"{label} contains a NUL byte or backslash; only POSIX relative paths are allowed"
            )
        elif value.startswith("/") or _DRIVE.match(value):
            problems.append(f"{label} is an absolute path; only paths inside the model directory are allowed")
        elif _SCHEME.match(value):
            problems.append(f"{label} is a URI; only paths inside the model directory are allowed")
        elif ".." in value.split("/"):
            problems.append(f"{label} escapes the model directory ('..' component)")
        else:
            target = model_dir / value
            try:
                inside = target.resolve().is_relative_to(root)
            except (OSError, RuntimeError):  # symlink loops, over-long names
                inside = False
            if not inside:
                problems.append(f"{label} resolves outside the model directory (symbolic link)")
            elif not target.exists():
                problems.append(f"{label} does not exist in the model directory")
            else:
                ok.append((posixpath.normpath(value), key, flavor))
    return ok, problems


def _serialization_format(flavors: dict[str, dict]) -> str | None:
    if flavors.get("sklearn", {}).get("serialization_format"):
        return str(flavors["sklearn"]["serialization_format"])
    for conf in flavors.values():
        if conf.get("serialization_format"):
            return str(conf["serialization_format"])
    return None


def _signature(sig: Any, field: str) -> dict | None:
    """MLflow stores each signature part as a JSON string; decode them (never eval)."""
    if sig is None:
        return None
    if not isinstance(sig, dict):
        raise _fail(field, "MLmodel signature is not a mapping")
    out: dict[str, Any] = {}
    for part in ("inputs", "outputs", "params"):
        value = sig.get(part)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise _fail(field, f"MLmodel signature.{part} is not valid JSON: {exc}") from None
        if value is not None and not isinstance(value, list | dict):
            raise _fail(
                field, f"MLmodel signature.{part} must be a JSON list or object, not {type(value).__name__}"
            )
        out[part] = _jsonable(value)
    return out


def _requirements(model_dir: Path, field: str) -> list[str]:
    path = model_dir / "requirements.txt"
    if not path.is_file() or not path.resolve().is_relative_to(model_dir.resolve()):
        return []
    if path.stat().st_size > MAX_REQUIREMENTS_BYTES:
        raise _fail(field, f"requirements.txt is larger than {MAX_REQUIREMENTS_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _fail(field, "requirements.txt is not valid UTF-8 text") from None
    lines = (re.split(r"\s+#", line, maxsplit=1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pickled_files(
    model_dir: Path, flavors: dict[str, dict], referenced: list[tuple[str, str, str | None]]
) -> list[str]:
    """Files a loader would unpickle: by extension anywhere, or referenced by a pickle-format flavor."""
    found: set[str] = set()
    pickle_flavors = {
        n for n, c in flavors.items() if str(c.get("serialization_format", "")).lower() in PICKLE_FORMATS
    }
    for path, key, flavor in referenced:
        if not (model_dir / path).is_file():
            continue
        by_name = path.lower().endswith(PICKLE_SUFFIXES)
        leaf = key.rsplit(".", 1)[-1].lower()
        by_key = leaf == "python_model"  # a pyfunc python_model is always cloudpickle
        by_format = flavor in pickle_flavors and leaf not in ("code", "env") and ".env." not in key
        if by_name or by_key or by_format:
            found.add(path)
    for dirpath, _dirs, files in os.walk(model_dir, followlinks=False):
        for name in files:
            full = Path(dirpath, name)
            if name.lower().endswith(PICKLE_SUFFIXES) and not full.is_symlink():
                found.add(full.relative_to(model_dir).as_posix())
    return sorted(found)
