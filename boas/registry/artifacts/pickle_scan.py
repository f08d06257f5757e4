"""What an uploaded model's pickles and skops files would import, read without unpickling anything.

Run on upload (the imports are shown to evaluators; what picklescan itself calls dangerous, such
as ``os.system``, is refused there) and again before any sandboxed run, where everything outside
an allowlist of what scikit-learn, numpy and scipy models reference stops the job. A scan is a
gate, not a guarantee: the sandbox still confines what runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from boas.registry.artifacts.mlmodel import PICKLE_SUFFIXES
from registry_db.errors import ValidationFailed

_SKOPS_SCHEMA_CAP = 64 * 1024**2

_NUMPY_SCALARS = frozenset(
    "bool bool_ byte ubyte short ushort intc uintc int_ uint longlong ulonglong intp uintp int8 int16 int32 "
    "int64 uint8 uint16 uint32 uint64 half single double longdouble float16 float32 float64 csingle cdouble "
    "clongdouble complex64 complex128 str_ bytes_ object_ void datetime64 timedelta64".split()
)
_NUMPY_ARRAYS = frozenset({"_reconstruct", "scalar"})
_ALLOWED: dict[str, frozenset[str]] = {
    "builtins": frozenset(
        "bool bytearray bytes complex dict float frozenset int list object range set slice str tuple".split()
    ),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "copyreg": frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"}),
    "_codecs": frozenset({"encode"}),
    "numpy": _NUMPY_SCALARS | {"dtype", "ndarray"},
    "numpy._core.multiarray": _NUMPY_ARRAYS,
    "numpy.core.multiarray": _NUMPY_ARRAYS,
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy.random._pickle": frozenset({"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"}),
    "numpy.random.bit_generator": frozenset({"SeedSequence", "__pyx_unpickle_SeedSequence"}),
    "numpy.random._mt19937": frozenset({"MT19937"}),
    "numpy.random._pcg64": frozenset({"PCG64", "PCG64DXSM"}),
    "numpy.random._philox": frozenset({"Philox"}),
    "numpy.random._sfc64": frozenset({"SFC64"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "numpy.random._generator": frozenset({"Generator"}),
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper", "NDArrayWrapper"}),
    "datetime": frozenset({"date", "datetime", "time", "timedelta", "timezone"}),
    "mlflow.models.signature": frozenset({"ModelSignature"}),
}
_ALLOWED["__builtin__"] = _ALLOWED["builtins"]  # protocols 0-2
# Classes of these packages (names starting with a capital, maybe after "_"), and metric functions.
# A scan is a gate, not a guarantee: constructors and functions can still be chained into gadgets.
_ALLOWED_PACKAGES = ("sklearn", "scipy", "mlflow.types.schema")
_FUNCTION_PACKAGES = ("sklearn.metrics",)
_DENIED_PACKAGES = (  # they read or write files, fetch URLs, import modules by name or re-export such helpers
    "sklearn.datasets", "sklearn.externals", "sklearn.utils._testing", "sklearn.utils._show_versions",
    "sklearn.utils.discovery", "scipy.io", "scipy.datasets", "scipy._lib",
)  # fmt: skip


@dataclass(frozen=True)
class PickleScan:
    """What the model's serialised files would import: shown to evaluators, and the gate before any run."""

    files: list[str]  # scanned files, POSIX paths relative to the model directory
    globals: list[str]  # every "module.name" they would import, sorted, unique
    dangerous: list[str]  # imports outside the allowlist or flagged by picklescan, and unscannable files
    ok: bool
    flagged: list[str] = dataclasses.field(default_factory=list)  # what picklescan itself calls dangerous

    def as_dict(self) -> dict:
        """JSON-serialisable view, to show evaluators and store with the audit."""
        return dataclasses.asdict(self)


def scan_pickles(model_dir: Path, paths: list[str]) -> PickleScan:
    """List what the model's pickles and skops files would import, flagging what sklearn models never need."""
    from picklescan.scanner import SafetyLevel, scan_file_path

    root = Path(model_dir).resolve()
    candidates: set[str] = set()
    for rel in paths:
        full = (root / rel).resolve()
        if not full.is_relative_to(root):
            raise ValidationFailed("a pickle path leaves the model directory", {"paths": [rel]})
        candidates.add(full.relative_to(root).as_posix())
    for dirpath, _dirs, names in os.walk(root):
        candidates.update(
            Path(dirpath, n).relative_to(root).as_posix()
            for n in names
            if n.lower().endswith((*PICKLE_SUFFIXES, ".skops"))
        )
    files, found, dangerous, flagged_refs = [], set(), set(), set()
    for rel in sorted(candidates):
        full = root / rel
        if full.is_symlink() or not full.is_file():
            continue
        files.append(rel)
        try:
            if rel.lower().endswith(".skops"):
                refs = [(module, name, False) for module, name in _skops_refs(full)]
            else:
                result = scan_file_path(str(full))
                refs = [(g.module, g.name, g.safety == SafetyLevel.Dangerous) for g in result.globals]
        except Exception as exc:  # noqa: BLE001 - a file the scanner cannot read cannot be vouched for
            dangerous.add(f"<unscannable {rel}: {type(exc).__name__}>")
            continue
        for module, name, flagged in refs:
            found.add(f"{module}.{name}")
            if flagged or not _is_allowed(module, name):
                dangerous.add(f"{module}.{name}")
            if flagged:
                flagged_refs.add(f"{module}.{name}")
    return PickleScan(files=files, globals=sorted(found), dangerous=sorted(dangerous), ok=not dangerous,
                      flagged=sorted(flagged_refs))


def _is_allowed(module: str, name: str) -> bool:
    if name in _ALLOWED.get(module, ()):
        return True
    if not name.isidentifier() or _within(module, _DENIED_PACKAGES):  # "A.b" reaches attributes of attributes
        return False
    if module == "numpy.dtypes":
        return name.endswith("DType")
    class_like = name.lstrip("_")[:1].isupper() or name.startswith("__pyx_unpickle_")
    return _within(module, _FUNCTION_PACKAGES) or (class_like and _within(module, _ALLOWED_PACKAGES))


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _skops_refs(path: Path) -> set[tuple[str, str]]:
    """Every (module, name) a skops file's schema asks for, read as JSON (skops itself is not imported)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("schema.json")
        if info.file_size > _SKOPS_SCHEMA_CAP:
            raise ValueError("schema.json is too large")
        stack: list = [json.loads(archive.read(info))]
    refs = set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                refs.add((node["__module__"], node["__class__"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return refs
