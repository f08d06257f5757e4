"""Storage hygiene: abandoned staging directories are swept, and a damaged blob is repaired, not reused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry_db.blobs import FilesystemBlobStore
from tests.e2e.test_cli import _env, boas
from tests.factories import create_algorithm, upload_version

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    """Backdate a directory and everything in it."""
    when = time.time() - seconds
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.utime(os.path.join(root, name), (when, when), follow_symlinks=False)
    os.utime(path, (when, when))


def test_sweep_takes_idle_staging_directories_only(tmp_path):
    blobs = FilesystemBlobStore(tmp_path)
    old, recent, busy = blobs.staging_dir(), blobs.staging_dir(), blobs.staging_dir()
    for stage in (old, recent, busy):
        (stage / "tree" / "sub").mkdir(parents=True)
        (stage / "tree" / "sub" / "weights.bin").write_bytes(b"w" * 1000)
    other = blobs.tmp_root / "not-a-stage"
    other.mkdir()
    _age(old, 7 * HOUR)
    _age(other, 7 * HOUR)
    _age(busy, 7 * HOUR)
    (busy / "tree" / "sub" / "weights.bin").write_bytes(b"still being written")  # touched just now
    assert blobs.sweep_staging(6 * HOUR) == [old]
    assert not old.exists() and recent.exists() and busy.exists() and other.exists()
    assert blobs.sweep_staging(6 * HOUR) == []


def _killed_mid_extraction(data_dir: Path) -> Path:
    """A real process stages a large upload and is SIGKILLed while it writes, as a restarted worker is."""
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from registry_db.blobs import FilesystemBlobStore\n"
        "stage = FilesystemBlobStore(Path(sys.argv[1])).staging_dir()\n"
        "(stage / 'tree').mkdir()\n"
        "out = open(stage / 'tree' / 'model.pkl', 'wb')\n"
        "out.write(b'x' * 8_000_000); out.flush()\n"
        "print(stage, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], stdout=subprocess.PIPE, text=True)
    stage = Path(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert stage.is_dir() and (stage / "tree" / "model.pkl").stat().st_size == 8_000_000
    return stage


@pytest.mark.slow
def test_a_killed_worker_s_staging_directory_is_removed_at_start(tmp_path):
    from boas.config import Settings
    from boas.runtime import build_storage

    data_dir = tmp_path / "data"
    FilesystemBlobStore(data_dir).ensure()
    stage = _killed_mid_extraction(data_dir)
    build_storage(Settings(data_dir=data_dir))  # within the grace period: an upload may still own it
    assert stage.exists()
    _age(stage, 7 * HOUR)
    build_storage(Settings(data_dir=data_dir))  # what every process does at start
    assert not stage.exists()


@pytest.mark.slow
def test_the_reaper_removes_abandoned_staging_directories(tmp_path):
    data_dir = tmp_path / "data"
    env = {**_env(data_dir, None), "BOAS_STAGING_GRACE_SECONDS": "3600"}
    assert boas(env, "db", "upgrade").returncode == 0
    stage = _killed_mid_extraction(data_dir)
    result = boas(env, "jobs", "reap")
    assert result.returncode == 0 and stage.exists()  # 1 hour of grace: kept
    _age(stage, 2 * HOUR)
    os.utime(data_dir / "tmp", None)
    result = boas(env, "jobs", "reap")
    assert result.returncode == 0, result.stderr
    assert not stage.exists()
    assert list((data_dir / "tmp").iterdir()) == []


def test_adopting_over_a_damaged_blob_rewrites_it(tmp_path):
    import hashlib

    blobs = FilesystemBlobStore(tmp_path)
    data = b"intact model weights" * 100
    digest = hashlib.sha256(data).hexdigest()
    stage = blobs.staging_dir()
    (stage / "a").write_bytes(data)
    assert blobs.adopt(stage / "a", digest) is True
    stored = blobs.path_for(digest)
    stored.chmod(0o644)
    stored.write_bytes(b"damaged on disk")
    (stage / "b").write_bytes(data)
    assert blobs.adopt(stage / "b", digest) is False  # not new: rows may already point at it
    assert stored.read_bytes() == data and blobs.verified_path(digest, len(data)) == stored
    assert not (stage / "b").exists()


def test_re_uploading_the_intact_model_repairs_a_damaged_blob(client, make_account, model_zip, settings):
    """The issue: after a blob was damaged, re-uploading the model reused it and the new version was broken."""
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    first = upload_version(client, author, algo["slug"], "1.0.0", model_zip).get_json()
    entry = next(f for f in first["manifest"] if f["path"] == "MLmodel")
    blob = settings.data_dir / "blobs" / "sha256" / entry["sha256"][:2] / entry["sha256"]
    intact = blob.read_bytes()
    blob.chmod(0o644)
    blob.write_bytes(intact.replace(b"flavors", b"FLAVORS"))
    client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/publish", headers=author)
    broken = client.get(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/artifacts/MLmodel")
    assert broken.status_code == 500 and broken.get_json()["code"] == "artifact_corrupted"

    second = upload_version(client, author, algo["slug"], "1.0.1", model_zip)
    assert second.status_code == 201, second.get_json()
    assert blob.read_bytes() == intact
    client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.1/publish", headers=author)
    for version in ("1.0.1", "1.0.0"):  # the old version shares the content: repaired too
        response = client.get(f"/api/v1/algorithms/{algo['slug']}/versions/{version}/artifacts/MLmodel")
        assert response.status_code == 200 and response.data == intact, version
    assert not any((settings.data_dir / "tmp").iterdir())
