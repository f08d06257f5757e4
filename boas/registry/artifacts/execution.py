"""How an uploaded MLflow model may be executed, decided once at upload from what its files contain.

Only formats that cannot run code when loaded are executed by default: scikit-learn saved by MLflow
with ``serialization_format="skops"`` (loaded against the explicit list of types below, never a list
the artifact supplies), ONNX (run by onnxruntime), and the native files MLflow's ``xgboost`` flavour
(JSON or UBJSON, for a Booster or an XGBoost classifier) and ``lightgbm`` flavour (LightGBM's text
model, for a Booster only) write. Those two are read by XGBoost's and LightGBM's own parsers, never by
MLflow's loaders (``mlflow.xgboost`` imports the class MLmodel names; a LightGBM scikit-learn model is
a skops or pickle file of LightGBM's types, so it is audited from predictions). Anything that carries code is audited only from
uploaded predictions: a pickle in *any* file (recognised by its bytes, also inside zip and compressed
containers, never by its name or by what MLmodel declares), Python source, a custom ``loader_module``,
a ``code:`` directory, a model from code. Standard library only: the sandbox child imports this
module to re-check the same list before it loads anything.
"""

from __future__ import annotations

import bz2
import io
import json
import lzma
import os
import pickletools
import re
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

EXECUTE = "execute"
PREDICTIONS_ONLY = "predictions_only"
SAFE_LOADERS = {"mlflow.sklearn": "skops", "mlflow.onnx": "onnx", "mlflow.xgboost": "xgboost",
                "mlflow.lightgbm": "lightgbm"}
KNOWN_FLAVOURS = frozenset({"python_function", "sklearn", "onnx", "xgboost", "lightgbm"})
# The flavour, and its key naming the model file, each executed format is read from.
MODEL_FILE_KEYS = {"skops": ("sklearn", "pickled_model"), "onnx": ("onnx", "data"), "xgboost": ("xgboost", "data"),
                   "lightgbm": ("lightgbm", "data")}
# Whatever the class MLmodel names, the file is loaded into a Booster: these are the ones whose Booster
# predicts what the class itself would (the probability of class 1 for a binary objective).
XGBOOST_CLASSES = frozenset({"xgboost.core.Booster", "xgboost.sklearn.XGBClassifier",
                             "xgboost.sklearn.XGBRFClassifier"})
XGBOOST_FORMATS = frozenset({"json", "ubj"})  # XGBoost's deprecated binary format is not accepted
LIGHTGBM_CLASSES = frozenset({"lightgbm.basic.Booster"})  # its scikit-learn models are skops or pickle files
# Why a model is not executed: a fixed vocabulary, each translated on the card.
REASONS = ("pickle", "python_source", "custom_loader", "code_directory", "model_from_code", "unsupported_format",
           "untrusted_type", "unknown_flavour")
# Every type a skops file may ask for. Trees are absent on purpose: skops itself warns that a crafted
# sklearn Tree makes predict() read out of bounds. Such models go through ONNX.
TRUSTED_SKOPS_TYPES = frozenset({
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.slice", "builtins.NoneType",
    "numpy.ndarray", "numpy.float64", "numpy.float32", "numpy.int64", "numpy.int32", "numpy.bool_",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.linear_model._ridge.RidgeClassifier",
    "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.naive_bayes.GaussianNB",
    "sklearn.neighbors._classification.KNeighborsClassifier",  # brute force only: its trees are not listed
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.RobustScaler",
    "sklearn.impute._base.SimpleImputer",
})  # fmt: skip
_PEEK = 1024 * 1024  # how much of a compressed or large file is inspected
_MAX_DEPTH = 3  # containers inside containers
_MAX_MEMBERS = 10_000
# gzip, bzip2, xz, then lz4 and joblib's legacy zlib container (whose contents are not inspected here).
_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x04\x22\x4d\x18", b"ZF0x")
# Opcodes that make the unpickler import or look up a callable; GLOBAL and INST also need a dotted name.
_IMPORT_OPCODES = frozenset({"STACK_GLOBAL", "EXT1", "EXT2", "EXT4"})
_OPCODE_BYTES = frozenset(ord(op.code) for op in pickletools.opcodes)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def decide_execution(model_dir: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``{"mode", "format", "reasons": [{"code", "path"?}]}`` for a model directory read by ``read_mlmodel``."""
    model_dir = Path(model_dir)
    flavours: dict[str, dict] = info.get("flavors") or {}
    pyfunc = flavours.get("python_function") or {}
    reasons: list[dict[str, str]] = []
    for rel, kind in code_files(model_dir):
        reasons.append({"code": kind, "path": rel})
    loader = pyfunc.get("loader_module")
    if not isinstance(loader, str) or loader not in SAFE_LOADERS:  # a YAML list or mapping is no module name
        reasons.append({"code": "custom_loader", "path": str(loader)[:200]})
    if any(conf.get("code") for conf in flavours.values()):
        reasons.append({"code": "code_directory"})
    if any(key in conf for conf in flavours.values() for key in ("model_code_path", "python_model")):
        reasons.append({"code": "model_from_code"})
    for name in sorted(set(flavours) - KNOWN_FLAVOURS):
        reasons.append({"code": "unknown_flavour", "path": name[:200]})
    fmt = SAFE_LOADERS.get(loader) if isinstance(loader, str) else None
    if fmt == "skops":
        sklearn = flavours.get("sklearn") or {}
        model_file = sklearn.get("pickled_model")
        if str(sklearn.get("serialization_format", "")).lower() != "skops" or not isinstance(model_file, str):
            reasons.append({"code": "unsupported_format"})
        else:
            untrusted = untrusted_skops_types(model_dir / model_file)
            reasons += [{"code": "untrusted_type", "path": name[:200]} for name in untrusted[:20]]
    elif fmt == "onnx":
        data = (flavours.get("onnx") or {}).get("data")
        if not isinstance(data, str) or not (model_dir / data).is_file():
            reasons.append({"code": "unsupported_format"})
    elif fmt in ("xgboost", "lightgbm"):
        reasons += native_format_problems(model_dir, fmt, flavours.get(fmt) or {})
    executable = fmt is not None and not reasons
    return {"mode": EXECUTE if executable else PREDICTIONS_ONLY, "format": fmt if executable else "code",
            "reasons": reasons}


def model_file(info: dict[str, Any], fmt: str) -> str:
    """The file the safe loader opens, relative to the model directory."""
    flavour, key = MODEL_FILE_KEYS[fmt]
    return (info.get("flavors") or {})[flavour][key]


def native_format_problems(model_dir: Path, fmt: str, conf: dict[str, Any]) -> list[dict[str, str]]:
    """Why an ``xgboost``/``lightgbm`` flavour is not one of the native files executed ([] when it is).

    The flavour's fields are checked against what MLflow writes for a native model, and the file's
    first bytes against the format it claims: a native parser is then the only thing that reads it.
    """
    data, model_class = conf.get("data"), conf.get("model_class")
    if fmt == "xgboost":
        classes, declared = XGBOOST_CLASSES, str(conf.get("model_format", "")).lower()
        if declared not in XGBOOST_FORMATS:
            return [{"code": "unsupported_format", "path": f"model_format: {declared}"[:200]}]
    else:
        classes = LIGHTGBM_CLASSES
    if not isinstance(model_class, str) or model_class not in classes:
        return [{"code": "unsupported_format", "path": f"model_class: {model_class}"[:200]}]
    if not isinstance(data, str) or not (model_dir / data).is_file() or (model_dir / data).is_symlink():
        return [{"code": "unsupported_format", "path": str(data)[:200]}]
    if not native_header_ok(model_dir / data, fmt):
        return [{"code": "unsupported_format", "path": data[:200]}]
    return []


def native_header_ok(path: Path, fmt: str) -> bool:
    """Whether a file starts as the native format says: a JSON or UBJSON object, or LightGBM's text model."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    if fmt == "xgboost":
        return head.lstrip(b" \t\r\n")[:1] == b"{"  # JSON and UBJSON objects both open with "{"
    return head.startswith(b"tree\n") or head.startswith(b"tree\r\n")  # LightGBM's text model


def untrusted_skops_types(path: Path) -> list[str]:
    """Types a skops file asks for that are not in ``TRUSTED_SKOPS_TYPES`` (an unreadable file is one)."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > 64 * 1024**2:
                return ["<schema.json too large>"]
            stack: list = [json.loads(archive.read(info))]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ["<not a skops file>"]
    found: set[str] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
                content = node.get("content")
                if node.get("__loader__") == "MethodNode" and isinstance(content, dict):
                    # a bound method of a trusted type is a callable of its own, which skops names so too
                    found.add(f"{node['__module__']}.{node['__class__']}.{content.get('func')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found - TRUSTED_SKOPS_TYPES)


def code_files(model_dir: Path) -> list[tuple[str, str]]:
    """(path, "pickle" | "python_source") for every file that would run code if a loader read it."""
    found = []
    for dirpath, dirnames, filenames in os.walk(model_dir):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if full.is_symlink() or not full.is_file():
                continue
            rel = full.relative_to(model_dir).as_posix()
            if name.endswith((".py", ".pyc", ".pyw", ".so")):
                found.append((rel, "python_source"))
                continue
            with open(full, "rb") as fh:
                if _carries_pickle(fh, full.stat().st_size, 0):
                    found.append((rel, "pickle"))
    return found


def _carries_pickle(fh: io.BufferedIOBase, size: int, depth: int) -> bool:
    head = fh.read(16)
    fh.seek(0)
    if head[:1] == b"\x80" and len(head) > 1 and 0 <= head[1] <= 5:
        return True  # PROTO opcode (0 is accepted by the unpickler too): joblib's and cloudpickle's streams
    if head.startswith(b"\x93NUMPY"):
        return _npy_holds_objects(fh.read(65536 + 10))
    tar = _is_tar(fh)
    if depth >= _MAX_DEPTH:  # a container this deep is not opened, so not vouched for
        container = head.startswith((b"PK\x03\x04", b"PK\x05\x06", *_COMPRESSED)) or tar or _is_zlib(head)
        return container or _headerless_pickle(fh, size)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_carries_pickle(fh, depth)
    if tar:
        return _tar_carries_pickle(fh, depth)
    inner = _decompressed_head(head, fh)
    if inner is not None:
        return _carries_pickle(io.BytesIO(inner), len(inner), depth + 1)
    if _opens_as_zip(fh):  # a zip with bytes in front of it (zipfile reads archives from their end)
        return _zip_carries_pickle(fh, depth, vouch_unreadable=True)
    return _headerless_pickle(fh, size)


def _is_tar(fh: io.BufferedIOBase) -> bool:
    """A POSIX or GNU tar archive (torch's legacy format is one), by the magic at offset 257."""
    fh.seek(257)
    magic = fh.read(8)
    fh.seek(0)
    return magic.startswith(b"ustar")


def _tar_carries_pickle(fh: io.BufferedIOBase, depth: int) -> bool:
    try:
        with tarfile.open(fileobj=fh, mode="r:") as archive:
            for count, member in enumerate(archive):
                if count >= _MAX_MEMBERS:
                    return True  # not inspectable: not vouched for
                if not member.isfile():
                    continue
                if member.name.endswith((".py", ".pyc", ".pkl", ".pickle", ".joblib")):
                    return True
                entry = archive.extractfile(member)
                data = entry.read(_PEEK) if entry is not None else b""
                if _carries_pickle(io.BytesIO(data), member.size, depth + 1):
                    return True
    except (tarfile.TarError, OSError, ValueError, EOFError):
        return True  # a tar that cannot be read cannot be vouched for
    return False


def _is_zlib(head: bytes) -> bool:
    return head[:1] == b"\x78" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda")


def _npy_holds_objects(header: bytes) -> bool:
    """Whether a .npy header's dtype has an object field, stored as a pickle ("|O", "O", "<O8"...)."""
    text = header[8:].decode("latin-1")
    if "descr" not in text:
        return True  # not a header numpy writes: not vouched for
    return re.search(r"""['"][<>|=]?O\d*['"]""", text) is not None


def _opens_as_zip(fh: io.BufferedIOBase) -> bool:
    try:
        with zipfile.ZipFile(fh):
            return True
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, RuntimeError):
        return False
    finally:
        fh.seek(0)


def _zip_carries_pickle(fh: io.BufferedIOBase, depth: int, vouch_unreadable: bool = False) -> bool:
    """A zip's members, by name and by content; one that cannot be read is not vouched for, unless the
    file is no zip by its first bytes (an Office document or any binary that merely ends like a zip)."""
    try:
        with zipfile.ZipFile(fh) as archive:
            members = archive.infolist()
            if len(members) > _MAX_MEMBERS:
                return not vouch_unreadable  # not inspectable: not vouched for
            for member in members:
                if member.is_dir():
                    continue
                if member.filename.endswith((".py", ".pyc", ".pkl", ".pickle", ".joblib")):
                    return True
                with archive.open(member) as entry:
                    data = entry.read(_PEEK)
                if _carries_pickle(io.BytesIO(data), member.file_size, depth + 1):
                    return True
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, RuntimeError):
        return not vouch_unreadable  # a container that cannot be read cannot be vouched for
    return False


def _decompressed_head(head: bytes, fh: io.BufferedIOBase) -> bytes | None:
    """The first bytes of a gzip/zlib/bz2/xz stream (joblib's compressors), or None if it is none of them."""
    data = fh.read(_PEEK)
    fh.seek(0)
    try:
        if head.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, _PEEK)
        if _is_zlib(head):
            return zlib.decompressobj().decompress(data, _PEEK)
        if head.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(data, _PEEK)
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMADecompressor().decompress(data, _PEEK)
        if head.startswith(_COMPRESSED[3:]):
            return b"\x80\x02"  # lz4 or joblib's legacy zlib container: not inspectable here, treated as pickle
    except (zlib.error, OSError, EOFError, lzma.LZMAError):
        return b"\x80\x02"  # corrupt compressed data: not vouched for
    return None


def _headerless_pickle(fh: io.BufferedIOBase, size: int) -> bool:
    """A stream without a PROTO header (protocols 0 and 1, or any opcodes written by hand) is still a pickle.

    The unpickler accepts any opcode first and ignores what follows STOP, so the file is parsed as opcodes
    from its first byte: it is one if it imports a name (GLOBAL/INST with a dotted name, STACK_GLOBAL, an
    extension code) before a STOP, or before the inspected prefix of a larger file ends.
    Text files fail within a few bytes: a GLOBAL whose module or name is not a dotted identifier ends it.
    """
    data = fh.read(_PEEK)
    if not data or data[0] not in _OPCODE_BYTES:
        return False
    imports = False
    try:
        for opcode, arg, _pos in pickletools.genops(io.BytesIO(data)):
            if opcode.name in ("GLOBAL", "INST"):
                module, _, name = str(arg).partition(" ")
                if not (_DOTTED.fullmatch(module) and _DOTTED.fullmatch(name)):
                    return imports  # the unpickler fails here, after whatever it already ran
                imports = True
            elif opcode.name in _IMPORT_OPCODES:
                imports = True
            if opcode.name == "STOP":
                return imports
    except Exception:  # noqa: BLE001 - any parse failure ends the stream the unpickler would run
        return imports and size > _PEEK and len(data) == _PEEK
    return imports and size > _PEEK
