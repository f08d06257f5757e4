"""Hostile uploads over HTTP: each gets a clear 4xx and leaves no row and no file behind."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version


def _zip(entries: dict[str, bytes], infos: list[zipfile.ZipInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for info in infos or []:
            zf.writestr(info, b"/etc/passwd")
    return buf.getvalue()


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _tarinfo(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


MLMODEL = b"flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
GOOD = {"MLmodel": MLMODEL, "model.pkl": b"\x80\x04N."}


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("model.pkl")
    info.external_attr = (0o120777 << 16)
    return _zip({"MLmodel": MLMODEL}, [info])


HOSTILE = {
    "parent traversal": (lambda: _zip({**GOOD, "../evil.txt": b"x"}), "model.zip", 422),
    "absolute path": (lambda: _zip({**GOOD, "/etc/evil": b"x"}), "model.zip", 422),
    "backslash": (lambda: _zip({**GOOD, "..\\evil.txt": b"x"}), "model.zip", 422),
    "zip symlink": (_symlink_zip, "model.zip", 422),
    "tar symlink": (lambda: _tar([(_tarinfo("MLmodel"), MLMODEL), (_tarinfo("model.pkl", tarfile.SYMTYPE, "/etc/passwd"), None)]), "model.tar.gz", 422),
    "tar hard link": (lambda: _tar([(_tarinfo("MLmodel"), MLMODEL), (_tarinfo("model.pkl", tarfile.LNKTYPE, "MLmodel"), None)]), "model.tar.gz", 422),
    "tar device": (lambda: _tar([(_tarinfo("MLmodel"), MLMODEL), (_tarinfo("dev", tarfile.CHRTYPE), None)]), "model.tar.gz", 422),
    "tar fifo": (lambda: _tar([(_tarinfo("MLmodel"), MLMODEL), (_tarinfo("pipe", tarfile.FIFOTYPE), None)]), "model.tar.gz", 422),
    "too many files": (lambda: _zip({**GOOD, **{f"f/{i}.txt": b"x" for i in range(250)}}), "model.zip", 413),
    "zip bomb (ratio)": (lambda: _zip({**GOOD, "zeros.bin": b"\0" * 5_000_000}), "model.zip", 422),
    "MLmodel path escapes": (lambda: _zip({"MLmodel": MLMODEL.replace(b"model.pkl", b"../../etc/passwd")}), "model.zip", 422),
    "MLmodel absolute path": (lambda: _zip({"MLmodel": MLMODEL.replace(b"model.pkl", b"/etc/passwd")}), "model.zip", 422),
    "MLmodel URI": (lambda: _zip({"MLmodel": MLMODEL.replace(b"model.pkl", b"file:///etc/passwd")}), "model.zip", 422),
    "missing MLmodel": (lambda: _zip({"model.pkl": b"x"}), "model.zip", 422),
    "malformed MLmodel": (lambda: _zip({"MLmodel": b"flavors: [unclosed\n  - : :"}), "model.zip", 422),
    "MLmodel not a mapping": (lambda: _zip({"MLmodel": b"- a\n- b\n"}), "model.zip", 422),
    "not an archive": (lambda: b"this is just text pretending to be a zip\n" * 10, "model.zip", 422),
    "truncated zip": (lambda: _zip(GOOD)[:-40], "model.zip", 422),
    "empty file": (lambda: b"", "model.zip", 422),
}


def _leftovers(data_dir: Path) -> list[str]:
    found = []
    for sub in ("blobs", "tmp"):
        root = data_dir / sub
        if root.exists():
            found += [str(p.relative_to(data_dir)) for p in root.rglob("*") if p.is_file()]
    return found


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archive_is_refused_and_leaves_nothing(case, client, make_account, settings):
    make_archive, filename, status = HOSTILE[case]
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", make_archive(), filename=filename), status)
    assert body["errors"].get("model"), body  # the field is named, with a reason
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []
    assert _leftovers(settings.data_dir) == []


def test_upload_past_the_request_limit_is_413(client, make_account, settings):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", os.urandom(settings.max_upload_bytes + 3 * 1024 * 1024)), 413, "too_large")
    assert "limit" in body["message"]
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []
    assert _leftovers(settings.data_dir) == []


def test_file_just_past_the_upload_limit_is_413_naming_the_field(client, make_account, settings):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", os.urandom(settings.max_upload_bytes + 1000)), 413)
    assert "model" in body["errors"]
    assert _leftovers(settings.data_dir) == []


def test_a_valid_upload_after_rejections_still_works(client, make_account, model_zip, settings):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    assert upload_version(client, author, algo["slug"], "1.0.0", HOSTILE["parent traversal"][0]()).status_code == 422
    response = upload_version(client, author, algo["slug"], "1.0.0", model_zip)
    assert response.status_code == 201
    stored = {p.name for p in (settings.data_dir / "blobs").rglob("*") if p.is_file()}
    expected = {f["sha256"] for f in response.get_json()["manifest"]} | {response.get_json()["archive"]["sha256"]}
    assert stored == expected
    assert not any((settings.data_dir / "tmp").iterdir())


def test_corrupted_artifact_is_refused_not_served(client, make_account, model_zip, settings):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    version = upload_version(client, author, algo["slug"], "1.0.0", model_zip).get_json()
    client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/publish", headers=author)
    entry = next(f for f in version["manifest"] if f["path"] == "MLmodel")
    blob = settings.data_dir / "blobs" / "sha256" / entry["sha256"][:2] / entry["sha256"]
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes().replace(b"flavors", b"FLAVORS"))
    body = assert_error(client.get(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/artifacts/MLmodel"), 500,
                        "artifact_corrupted")
    assert "digest" in body["message"]
    other = next(f for f in version["manifest"] if f["path"] != "MLmodel")
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/artifacts/{other['path']}").status_code == 200


def test_a_pickle_that_would_run_a_command_is_refused_at_upload(client, make_account, mlflow_model_dir, settings,
                                                                tmp_path):
    import pickle
    import shutil

    from tests.conftest import zip_dir

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    hostile = tmp_path / "model"
    shutil.copytree(mlflow_model_dir, hostile)
    (hostile / "model.pkl").write_bytes(pickle.dumps(Payload()))
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", zip_dir(hostile)), 422)
    assert "system" in body["errors"]["model"][0]
    assert _leftovers(settings.data_dir) == []


def test_the_imports_of_an_uploaded_model_are_recorded_for_evaluators(client, make_account, model_zip):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    scan = upload_version(client, author, algo["slug"], "1.0.0", model_zip).get_json()["mlmodel"]["pickle_scan"]
    assert scan["files"] == ["model.skops"] and scan["ok"] is True and scan["flagged"] == []
    assert "sklearn.linear_model._logistic.LogisticRegression" in scan["globals"]
