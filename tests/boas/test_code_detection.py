"""Pickles are found by their bytes, however they are written; ordinary model files are not mistaken for one.

The unpickler accepts any opcode first (no PROTO header is needed, and ``PROTO 0`` is accepted), ignores
whatever follows STOP, and numpy and zipfile have their own ways of carrying a pickle. Every stream below
is checked to really load with ``pickle.loads`` (or ``numpy.load``) before the detector is asked about it,
so a variant that stopped being a pickle could not pass unnoticed. Nothing here unpickles a payload that
does anything: the import used is ``os.getcwd``.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from boas.registry.artifacts.execution import code_files

CALL = b"cos\ngetcwd\n)R."  # protocol 0: import os.getcwd, call it
BINARY = pickle.dumps(str, protocol=1)  # protocol 1 (binary, no header): imports builtins.str


def _zip(members: dict[str, bytes], prefix: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return prefix + buffer.getvalue()


def _npy(dtype_text: bytes, structured: bool = False) -> bytes:
    """An object array whose dtype is spelt ``dtype_text`` (same length as numpy's own ``'|O'``)."""
    buffer = io.BytesIO()
    array = (np.array([(1, {"a": 1})], dtype=[("x", "<i8"), ("o", "O")]) if structured
             else np.array([{"a": 1}], dtype=object))
    np.save(buffer, array, allow_pickle=True)
    raw = buffer.getvalue()
    assert raw.count(b"'|O'") == 1 and len(dtype_text) == 4
    return raw.replace(b"'|O'", dtype_text)


PICKLES = {
    "proto-0-header.bin": b"\x80\x00" + CALL,  # PROTO 0: not a header protocols 2+ write, accepted all the same
    "binfloat-first.bin": b"G" + bytes(8) + b"0" + CALL,  # a float pushed and popped before the import
    "newtrue-first.bin": b"\x88" + b"0" + CALL,
    "frame-without-proto.bin": b"\x95" + len(CALL).to_bytes(8, "little") + CALL,
    "trailing-junk.txt": CALL + b"\nanything after STOP is ignored by the unpickler\n",
    "protocol-1-trailing.dat": BINARY + b"\x00" * 100,
    "object-npy-O.npy": _npy(b"'O' "),
    "object-npy-O8.bin": _npy(b"'O8'"),
    "structured-object.npy": _npy(b'"O" ', structured=True),
    "zip-with-junk-in-front.npz": _zip({"arr_0.npy": b"\x80\x02" + CALL}, prefix=b"JUNK" * 64),
    "torch-like.pt": _zip({"archive/data": b"\x80\x02" + CALL, "archive/version": b"3\n"}),
    "gzipped-protocol-0.bin": gzip.compress(CALL),
    "zip-in-gzip.bin": gzip.compress(_zip({"inner/blob": b"G" + bytes(8) + b"0" + CALL})),
}


def _loads(name: str, data: bytes) -> None:
    """Show the variant is a real pickle (or an object array numpy unpickles): the test is about real ones."""
    if name.endswith((".npy", "O8.bin")):
        np.load(io.BytesIO(data), allow_pickle=True)
    elif data.startswith(b"\x1f\x8b"):
        inner = gzip.decompress(data)
        if inner.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(inner)) as archive:
                pickle.loads(archive.read("inner/blob"))
        else:
            pickle.loads(inner)
    elif b"PK\x03\x04" in data[:300]:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            pickle.loads(archive.read(archive.namelist()[0]))
    else:
        pickle.loads(data)


@pytest.mark.parametrize("name", sorted(PICKLES))
def test_a_pickle_written_any_way_is_found_by_its_bytes(name, tmp_path):
    _loads(name, PICKLES[name])
    (tmp_path / name).write_bytes(PICKLES[name])
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    assert code_files(tmp_path) == [(name, "pickle")]


def _numbers() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(12.0).reshape(3, 4))
    return buffer.getvalue()


TEXTS = {
    "NOTICE": b"Playwright\nCopyright (c) Microsoft Corporation.\n\nThis software incorporates material.\n",
    "README": b"Packages which used to use the tclConfig.sh to find the tcl (or tk) headers.\n",
    "conda.yaml": b"channels:\n- conda-forge\ndependencies:\n- python=3.11.7\n- pip:\n  - mlflow==3.17.2\n",
    "requirements.txt": b"mlflow==3.17.2\nscikit-learn==1.9.1\n",
    "notes.txt": b"cos\nsin and tan are trigonometric functions.\n",  # starts like a GLOBAL, is not one
    "numbers.npy": _numbers(),  # a numeric array: no pickle
    "office.xlsx": _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
    "junk-ending-like-a-zip.bin": b"\xd0\xcf\x11\xe0" + bytes(200) + b"PK\x05\x06" + bytes(18),
}


def test_text_files_numeric_arrays_and_zips_without_pickles_are_not_mistaken_for_one(tmp_path):
    for name, data in TEXTS.items():
        (tmp_path / name).write_bytes(data)
    assert code_files(tmp_path) == []


def test_the_files_mlflow_writes_for_the_executed_formats_are_not_mistaken_for_pickles(tmp_path):
    import lightgbm
    import mlflow.lightgbm
    import mlflow.sklearn
    import mlflow.xgboost
    import pandas as pd
    import xgboost
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"age": rng.normal(55, 12, 200), "bmi": rng.normal(27, 4, 200)})
    y = (frame["age"] > 55).astype(int)
    signature = infer_signature(frame)
    mlflow.sklearn.save_model(LogisticRegression().fit(frame, y), tmp_path / "skops", serialization_format="skops",
                              signature=signature, pip_requirements=[])
    mlflow.xgboost.save_model(xgboost.train({"objective": "binary:logistic", "nthread": 1}, xgboost.DMatrix(frame, y), 5),
                              tmp_path / "xgboost", signature=signature, pip_requirements=[])
    mlflow.lightgbm.save_model(lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(frame, y), 5),
                               tmp_path / "lightgbm", signature=signature, pip_requirements=[])
    for name in ("skops", "xgboost", "lightgbm"):
        assert len(list((tmp_path / name).iterdir())) >= 4
        assert code_files(tmp_path / name) == [], name
    Path(tmp_path / "lightgbm" / "model.lgb").write_bytes(CALL)  # the control: the same place, a pickle
    assert code_files(tmp_path / "lightgbm") == [("model.lgb", "pickle")]


def _tar(members: dict[str, bytes]) -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_pickles_in_tar_archives_and_in_containers_nested_past_the_inspected_depth_are_found(tmp_path):
    import tarfile

    nested = b"\x80\x02" + CALL
    for _ in range(5):  # zip in gzip in zip in gzip in zip: deeper than the detector opens
        nested = gzip.compress(_zip({"layer": nested}))
    files = {
        "legacy-torch.tar": _tar({"storages": bytes(64), "pickle": b"\x80\x02" + CALL}),
        "tar-of-text-pickle.bin": _tar({"a/b": CALL + b"\n"}),
        "deeply-nested.bin": nested,
    }
    with tarfile.open(fileobj=io.BytesIO(files["legacy-torch.tar"])) as archive:
        entry = archive.extractfile("pickle")
        assert entry is not None
        pickle.loads(entry.read())
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert code_files(tmp_path) == [(name, "pickle") for name in sorted(files)]
    harmless = tmp_path / "harmless"
    harmless.mkdir()
    (harmless / "docs.tar").write_bytes(_tar({"README": b"Plain text.\n", "data.npy": _numbers()}))
    (harmless / "shallow.bin").write_bytes(gzip.compress(_zip({"inner": b"just bytes"})))
    assert code_files(harmless) == []
