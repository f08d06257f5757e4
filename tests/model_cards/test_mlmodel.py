"""MLmodel files read as data by model_cards.mlmodel.read_mlmodel: real models and hostile ones."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from boas.registry.artifacts.archives import ArchiveLimits, extract_archive
from boas.registry.artifacts.mlmodel import read_mlmodel
from registry_db.errors import ValidationFailed

SIGNATURE = """signature:
  inputs: '[{"type": "double", "name": "age", "required": true}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
"""


def _saved_model(root: Path) -> Path:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    X = pd.DataFrame({"age": [30.0, 45.0, 60.0, 72.0], "bmi": [21.0, 27.5, 31.0, 24.0]})
    model = LogisticRegression().fit(X, [0, 1, 1, 0])
    path = root / "saved"
    mlflow.sklearn.save_model(
        model, str(path), signature=infer_signature(X, model.predict(X)), serialization_format="cloudpickle"
    )
    return path


def _model(tmp_path: Path, mlmodel: str, files: tuple[str, ...] = ("model.pkl",)) -> Path:
    """A hand-written model directory: the given MLmodel text plus placeholder files."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text(mlmodel)
    for name in files:
        (model_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (model_dir / name).write_bytes(b"placeholder")
    return model_dir


def _sklearn_mlmodel(pickled_model: str = "model.pkl", extra: str = "") -> str:
    return f"""flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: {pickled_model}
    serialization_format: cloudpickle
{extra}mlflow_version: 3.17.2
"""


def _rejected(model_dir: Path, *needles: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as exc:
        read_mlmodel(model_dir)
    err = exc.value
    assert err.status == 422
    for needle in needles:
        assert needle in err.message
        assert any(needle in msg for msg in err.errors["model"])
    return err


# --- real MLflow models -------------------------------------------------------------------


def test_real_sklearn_model_is_read_as_data(tmp_path):
    info = read_mlmodel(_saved_model(tmp_path))
    assert {"sklearn", "python_function"} <= set(info.flavors)
    assert info.loader_module == "mlflow.sklearn"
    assert info.serialization_format == "cloudpickle"
    assert [col["name"] for col in info.signature["inputs"]] == ["age", "bmi"]
    assert info.signature["params"] is None
    assert any(req.startswith("scikit-learn") for req in info.requirements)
    assert info.mlflow_version and info.model_uuid and info.utc_time_created and info.python_version
    assert "model.pkl" in info.pickled_files
    assert {"model.pkl", "conda.yaml", "python_env.yaml"} <= set(info.referenced_paths)
    assert json.loads(json.dumps(info.as_dict()))["flavors"]["sklearn"]["pickled_model"] == "model.pkl"


def test_real_model_uploaded_as_zip_folder_reads_after_extraction(tmp_path):
    saved = _saved_model(tmp_path)
    archive = tmp_path / "upload.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in saved.rglob("*"):
            zf.write(path, f"my_model/{path.relative_to(saved).as_posix()}")
    extract_archive(archive, tmp_path / "tree", ArchiveLimits())
    info = read_mlmodel(tmp_path / "tree")
    assert info.pickled_files == ["model.pkl"]


def test_logged_model_top_level_artifact_path_is_not_a_file_reference(tmp_path):
    model_dir = _model(tmp_path, "artifact_path: model\nrun_id: abc123\n" + _sklearn_mlmodel())
    info = read_mlmodel(model_dir)
    assert info.run_id == "abc123"
    assert info.referenced_paths == ["model.pkl"]


def test_pyfunc_artifacts_check_their_path_but_not_their_origin_uri(tmp_path):
    mlmodel = """flavors:
  python_function:
    loader_module: mlflow.pyfunc.model
    python_model: python_model.bin
    artifacts:
      scaler:
        path: artifacts/scaler.joblib
        uri: /home/author/work/scaler.joblib
"""
    model_dir = _model(tmp_path, mlmodel, files=("python_model.bin", "artifacts/scaler.joblib"))
    info = read_mlmodel(model_dir)
    assert info.referenced_paths == ["artifacts/scaler.joblib", "python_model.bin"]
    assert info.pickled_files == ["artifacts/scaler.joblib", "python_model.bin"]


def test_pickled_files_follow_the_flavor_format_and_file_names(tmp_path):
    mlmodel = _sklearn_mlmodel(pickled_model="weights.bin").replace("cloudpickle", "pickle")
    model_dir = _model(
        tmp_path, mlmodel, files=("model.pkl", "weights.bin", "extra/helper.joblib", "notes.txt")
    )
    info = read_mlmodel(model_dir)
    assert info.serialization_format == "pickle"
    assert info.pickled_files == ["extra/helper.joblib", "model.pkl", "weights.bin"]


def test_skops_model_with_code_dir_and_env_string(tmp_path):
    mlmodel = """flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.skops
    env: conda.yaml
    code: code
  sklearn:
    pickled_model: model.skops
    serialization_format: skops
"""
    model_dir = _model(tmp_path, mlmodel, files=("model.skops", "conda.yaml", "code/helpers.py"))
    info = read_mlmodel(model_dir)
    assert info.serialization_format == "skops"
    assert info.referenced_paths == ["code", "conda.yaml", "model.skops"]
    assert info.pickled_files == []
    assert info.signature is None and info.requirements == []


def test_requirements_drop_comments_and_blank_lines(tmp_path):
    model_dir = _model(tmp_path, _sklearn_mlmodel())
    (model_dir / "requirements.txt").write_text("# pinned\nmlflow==3.17.2\n\nscikit-learn==1.9.1  # core\n")
    assert read_mlmodel(model_dir).requirements == ["mlflow==3.17.2", "scikit-learn==1.9.1"]


# --- hostile references --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("model_path", "../../etc/passwd", "escapes the model directory"),
        ("model_path", "sub/../../x", "escapes the model directory"),
        ("data", "/etc/passwd", "is an absolute path"),
        ("pickled_model", "file:///etc/passwd", "is a URI"),
        ("pickled_model", "s3://bucket/model.pkl", "is a URI"),
        ("pickled_model", "http://evil.example/model.pkl", "is a URI"),
        ("model_code_path", "C:/Windows/x.py", "is an absolute path"),
        ("data", "..\\..\\etc\\passwd", "backslash"),
        ("pickled_model", "missing.pkl", "does not exist"),
    ],
)
def test_reference_outside_the_model_directory_is_rejected_naming_the_key(tmp_path, key, value, rule):
    mlmodel = f"flavors:\n  sklearn:\n    {key}: '{value}'\n"
    _rejected(_model(tmp_path, mlmodel), f"MLmodel flavors.sklearn.{key}: {value!r}", rule)


def test_symlink_inside_the_directory_pointing_outside_is_rejected(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    model_dir = _model(tmp_path, _sklearn_mlmodel(pickled_model="link.pkl"))
    os.symlink(outside, model_dir / "link.pkl")
    _rejected(
        model_dir, "MLmodel flavors.sklearn.pickled_model: 'link.pkl' resolves outside the model directory"
    )


def test_env_mapping_escape_is_rejected(tmp_path):
    mlmodel = (
        "flavors:\n  python_function:\n    env:\n"
        "      conda: ../conda.yaml\n      virtualenv: python_env.yaml\n"
    )
    model_dir = _model(tmp_path, mlmodel, files=("python_env.yaml",))
    _rejected(model_dir, "MLmodel flavors.python_function.env.conda: '../conda.yaml' escapes")


def test_nested_artifact_path_escape_is_rejected(tmp_path):
    mlmodel = "flavors:\n  python_function:\n    artifacts:\n      lut:\n        path: /etc/shadow\n"
    _rejected(_model(tmp_path, mlmodel), "MLmodel flavors.python_function.artifacts.lut.path: '/etc/shadow'")


def test_input_example_path_escape_is_rejected(tmp_path):
    extra = "saved_input_example_info:\n  artifact_path: ../../input.json\n  type: dataframe\n"
    _rejected(
        _model(tmp_path, _sklearn_mlmodel(extra=extra)), "MLmodel saved_input_example_info.artifact_path"
    )


def test_missing_code_directory_is_rejected_but_null_code_is_fine(tmp_path):
    model_dir = _model(tmp_path, _sklearn_mlmodel().replace("code: null", "code: code"))
    _rejected(model_dir, "MLmodel flavors.sklearn.code: 'code' does not exist")


def test_every_bad_reference_is_reported_at_once(tmp_path):
    mlmodel = "flavors:\n  sklearn:\n    pickled_model: /a\n    data: ../b\n    model_path: s3://c/d\n"
    err = _rejected(_model(tmp_path, mlmodel), "flavors.sklearn.pickled_model: '/a'")
    assert "(and 2 more problems)" in err.message
    assert len(err.errors["model"]) == 3


# --- malformed MLmodel ---------------------------------------------------------------------


def test_missing_mlmodel_is_rejected(tmp_path):
    (tmp_path / "model.pkl").write_bytes(b"x")
    err = _rejected(tmp_path)
    assert err.errors == {"model": ["MLmodel file not found at the root of the archive"]}


def test_mlmodel_that_is_a_symlink_is_rejected(tmp_path):
    (tmp_path / "elsewhere").write_text(_sklearn_mlmodel())
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    os.symlink(tmp_path / "elsewhere", model_dir / "MLmodel")
    _rejected(model_dir, "MLmodel must be a regular file")


def test_malformed_yaml_is_rejected_with_its_line(tmp_path):
    _rejected(_model(tmp_path, "flavors:\n  sklearn: [unclosed\n"), "MLmodel is not valid YAML", "line")


def test_yaml_list_is_not_a_mapping(tmp_path):
    _rejected(_model(tmp_path, "- flavors\n- sklearn\n"), "MLmodel must be a YAML mapping, not list")


def test_mlmodel_without_flavors_is_rejected(tmp_path):
    _rejected(_model(tmp_path, "mlflow_version: 3.17.2\n"), "MLmodel has no 'flavors' mapping")


def test_flavor_that_is_not_a_mapping_is_rejected(tmp_path):
    _rejected(
        _model(tmp_path, "flavors:\n  sklearn: model.pkl\n"), "MLmodel flavor 'sklearn' is not a mapping"
    )


def test_python_tags_are_refused_by_safe_load(tmp_path):
    mlmodel = "flavors: !!python/object/apply:os.system ['echo pwned']\n"
    _rejected(_model(tmp_path, mlmodel), "MLmodel is not valid YAML")


def test_malformed_signature_json_is_rejected(tmp_path):
    bad = SIGNATURE.replace('"required": true}]', '"required": true')
    _rejected(_model(tmp_path, _sklearn_mlmodel(extra=bad)), "MLmodel signature.inputs is not valid JSON")


def test_signature_strings_are_parsed(tmp_path):
    info = read_mlmodel(_model(tmp_path, _sklearn_mlmodel(extra=SIGNATURE)))
    assert info.signature == {
        "inputs": [{"type": "double", "name": "age", "required": True}],
        "outputs": [{"type": "long", "required": True}],
        "params": None,
    }


def test_oversized_mlmodel_is_rejected(tmp_path):
    model_dir = _model(tmp_path, _sklearn_mlmodel() + "# padding\n" * 110_000)
    _rejected(model_dir, "MLmodel is larger than 1048576 bytes")


def test_yaml_alias_bomb_is_rejected(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    model_dir = _model(tmp_path, "\n".join(lines) + "\nflavors:\n  sklearn:\n    bomb: *a8\n")
    _rejected(model_dir, "MLmodel is too complex")


def test_symlink_loop_is_rejected_not_crashing(tmp_path):
    model_dir = _model(tmp_path, _sklearn_mlmodel(pickled_model="loop.pkl"))
    os.symlink(model_dir / "loop.pkl", model_dir / "loop.pkl")
    _rejected(model_dir, "MLmodel flavors.sklearn.pickled_model: 'loop.pkl' resolves outside")


def test_yaml_only_values_become_strict_json(tmp_path):
    extra = "utc_time_created: 2024-05-01 10:00:00\n"
    mlmodel = _sklearn_mlmodel(extra=extra).replace(
        "code: null", "code: null\n    threshold: .nan\n    tags: !!set {a: null}"
    )
    info = read_mlmodel(_model(tmp_path, mlmodel))
    assert info.utc_time_created == "2024-05-01 10:00:00"
    assert json.dumps(info.as_dict(), allow_nan=False)
    assert info.flavors["sklearn"]["threshold"] == "nan" and info.flavors["sklearn"]["tags"] == ["a"]
