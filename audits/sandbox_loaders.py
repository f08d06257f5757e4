"""How the sandbox child loads and calls a model, one loader per format, and what it accepts as output.

Imported by the child only; standard library at module level, so importing it before the confinement
is in place loads nothing of the model's. skops is loaded with BOAS's own trusted types, ONNX with
onnxruntime on the CPU, XGBoost and LightGBM files with their libraries' own native parsers into a
Booster (never through MLflow, whose xgboost loader imports whatever class MLmodel names); MLflow's
loaders (which unpickle) only on the opt-in bubblewrap path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class RefusedFormat(Exception):
    """Raised in the child: the model file asks for something the safe loader does not trust."""


class WrongOutput(ValueError):
    """Raised in the child: the model's output is not one label or probability per row."""


def predict_code(model_dir: str, frame: Any) -> Any:
    """Only ever under the OS-level sandbox (audits.bwrap), by the instance's choice: MLflow's own loaders."""
    from mlflow.models import Model

    if "sklearn" in Model.load(model_dir).flavors:
        import mlflow.sklearn

        return _scores_of(mlflow.sklearn.load_model(model_dir), frame)
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(model_dir).predict(frame)


def _scores_of(model: Any, frame: Any) -> Any:
    """A scikit-learn classifier's probability of class 1, else its labels."""
    import numpy as np

    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(frame), dtype=float)
        if proba.ndim != 2 or proba.shape[1] != 2:
            raise WrongOutput(f"predict_proba returned shape {proba.shape}; a binary classifier gives (rows, 2)")
        return proba[:, 1]
    return model.predict(frame)


def predict_skops(path: Path, frame: Any) -> Any:
    """skops with BOAS's own list of trusted types: never a list the artifact (or MLmodel) supplies."""

    from boas.registry.artifacts.execution import TRUSTED_SKOPS_TYPES, untrusted_skops_types

    untrusted = untrusted_skops_types(path)
    if untrusted:
        raise RefusedFormat("untrusted types: " + ", ".join(untrusted))
    import skops.io

    return _scores_of(skops.io.load(path, trusted=sorted(TRUSTED_SKOPS_TYPES)), frame)


_ONNX_TYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64",
               "tensor(int32)": "int32", "tensor(string)": "object", "tensor(bool)": "bool"}


def predict_onnx(path: Path, frame: Any) -> Any:
    """onnxruntime on the CPU, one thread: one input tensor of every column, or one input per column."""
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    if len(inputs) == 1:
        feed = {inputs[0].name: frame.to_numpy(dtype=_ONNX_TYPES.get(inputs[0].type, "float32"))}
    else:
        missing = [i.name for i in inputs if i.name not in frame.columns]
        if missing:
            raise RefusedFormat("ONNX inputs that are not signature columns: " + ", ".join(missing))
        feed = {i.name: frame[[i.name]].to_numpy(dtype=_ONNX_TYPES.get(i.type, "float32")) for i in inputs}
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, feed), strict=True))
    if "probabilities" in outputs:
        proba = outputs["probabilities"]
        if isinstance(proba, list):  # skl2onnx's ZipMap: one {class: probability} per row
            return np.asarray([row.get(1, row.get("1", np.nan)) for row in proba], dtype=float)
        return np.asarray(proba, dtype=float)
    return outputs[names[0]]


def _native_file(path: Path, fmt: str) -> None:
    """Re-check, inside the child, that the file is the native format and not, say, a pickle renamed."""
    from boas.registry.artifacts.execution import native_header_ok

    if not native_header_ok(path, fmt):
        raise RefusedFormat(f"the model file is not a native {fmt} model")


def _in_model_order(frame: Any, names: Sequence[str] | None, count: int) -> Any:
    """The frame's columns in the order the model was trained on (by name when it kept them)."""
    if names and list(names) != [f"Column_{i}" for i in range(len(names))]:  # LightGBM's names for unnamed ones
        missing = [name for name in names if name not in frame.columns]
        if missing:
            raise RefusedFormat("model features that are not signature columns: " + ", ".join(missing[:20]))
        return frame[list(names)]
    if frame.shape[1] != count:
        raise RefusedFormat(f"the model expects {count} features, its signature gives {frame.shape[1]}")
    return frame


def predict_xgboost(path: Path, frame: Any, *, sklearn_api: bool = False) -> Any:
    """XGBoost's own JSON/UBJSON parser into a Booster, one thread; a classifier's early-stopping round kept."""
    _native_file(path, "xgboost")
    import xgboost

    booster = xgboost.Booster(params={"nthread": 1}, model_file=str(path))
    frame = _in_model_order(frame, booster.feature_names, booster.num_features())
    matrix = xgboost.DMatrix(frame, nthread=1)
    best = booster.attr("best_iteration") if sklearn_api else None
    rounds = (0, int(best) + 1) if best is not None else (0, 0)
    return booster.predict(matrix, iteration_range=rounds, validate_features=False)


def predict_lightgbm(path: Path, frame: Any) -> Any:
    """LightGBM's own text-model parser into a Booster, one thread."""
    _native_file(path, "lightgbm")
    import lightgbm

    booster = lightgbm.Booster(model_file=str(path))
    frame = _in_model_order(frame, booster.feature_name(), booster.num_feature())
    return booster.predict(frame, num_threads=1)


def as_labels_or_scores(output: Any) -> dict:
    """0/1 integer or boolean labels stay labels; floats in [0, 1] are scores the parent thresholds."""
    import numpy as np

    values = output.to_numpy() if hasattr(output, "to_numpy") else np.asarray(output)
    if values.ndim == 2 and values.shape[1] in (1, 2):
        values = values[:, -1]  # a single column, or (p0, p1) probabilities
    if values.ndim != 1:
        raise WrongOutput(f"model output has shape {values.shape}; expected one value per row")
    if values.dtype == bool or np.issubdtype(values.dtype, np.integer):
        if not np.isin(values, (0, 1)).all():
            raise WrongOutput("model labels are not 0/1")
        return {"y_pred": values.astype(np.int64)}
    if np.issubdtype(values.dtype, np.floating):
        scores = values.astype(np.float64)
        if not (np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()):
            raise WrongOutput("model scores are not probabilities in [0, 1]")
        return {"y_score": scores}
    raise WrongOutput(f"model output of dtype {values.dtype} is neither 0/1 labels nor probabilities")
