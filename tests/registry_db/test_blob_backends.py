"""One storage suite, run on both blob backends: a shared directory and S3-compatible object storage.

Each backend is seen by two "machines": two stores with their own local data directories (their own
staging areas and, for S3, their own caches) on the same backing store. The S3 server is real (moto's
server mode on 127.0.0.1) and is tampered with behind the store's back through its own API.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry_db.blobs import BlobStore, FilesystemBlobStore
from registry_db.blobs_s3 import PART_PREFIX, S3BlobStore
from registry_db.errors import IntegrityFailure, TooLarge
from registry_db.store import begin_write
from registry_db.store.staging import staged_write

PREFIX = "boas/test/"


@dataclass
class Backing:
    """A backend as the tests see it: stores on it (one per machine), what it holds, and a way to damage it."""

    kind: str
    machine: Callable[[str], BlobStore]
    stored: Callable[[], set[str]]
    tamper: Callable[[str, bytes], None]


@pytest.fixture(params=["fs", "s3"])
def backing(request, tmp_path) -> Backing:
    if request.param == "fs":
        shared = tmp_path / "shared"  # the directory every machine mounts

        def fs_machine(_name: str) -> BlobStore:
            store = FilesystemBlobStore(shared)
            store.ensure()
            return store

        def fs_stored() -> set[str]:
            return {p.name for p in (shared / "blobs" / "sha256").rglob("*") if p.is_file()}

        def fs_tamper(sha256: str, data: bytes) -> None:
            path = FilesystemBlobStore(shared).path_for(sha256)
            path.chmod(0o644)
            path.write_bytes(data)

        return Backing("fs", fs_machine, fs_stored, fs_tamper)

    bucket = request.getfixturevalue("s3_bucket")

    def s3_machine(name: str) -> BlobStore:
        store = S3BlobStore(tmp_path / name, bucket.client, bucket.name, PREFIX, cache_max_bytes=64 * 1024 * 1024)
        store.ensure()
        return store

    def s3_stored() -> set[str]:
        keys = bucket.object_keys()
        assert all(k.startswith(f"{PREFIX}blobs/sha256/") for k in keys), keys
        return {k.rsplit("/", 1)[1] for k in keys}

    def s3_tamper(sha256: str, data: bytes) -> None:
        bucket.client.put_object(Bucket=bucket.name, Key=f"{PREFIX}blobs/sha256/{sha256[:2]}/{sha256}", Body=data)

    return Backing("s3", s3_machine, s3_stored, s3_tamper)


def _stage(store: BlobStore, data: bytes) -> tuple[Path, str]:
    """Stage ``data`` as an upload would: streamed into a staging directory, hashed on the way."""
    path = store.staging_dir() / "upload"
    sha256, size = store.stage_stream(io.BytesIO(data), path, max_bytes=10 * 1024 * 1024, field="file")
    assert size == len(data)
    return path, sha256


def _local_files(store: BlobStore) -> list[Path]:
    """Every file in a machine's staging area (and cache, for S3)."""
    return sorted(p for p in store.root.rglob("*") if p.is_file() and "blobs" not in p.relative_to(store.root).parts)


def test_a_blob_adopted_on_one_machine_is_read_verified_on_the_other(backing):
    web, worker = backing.machine("web"), backing.machine("worker")
    data = os.urandom(200_000)
    path, sha256 = _stage(web, data)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert web.adopt(path, sha256) is True
    assert not path.exists()
    assert backing.stored() == {sha256}
    assert web.exists(sha256) and worker.exists(sha256)
    for store in (web, worker):
        assert store.verified_path(sha256, len(data)).read_bytes() == data
        assert store.verified_path(sha256).read_bytes() == data  # size unknown (reports): still verified
    with pytest.raises(IntegrityFailure):
        worker.verified_path(sha256, len(data) + 1)  # the recorded size is part of what is checked


def test_adopting_the_same_bytes_again_stores_one_blob_and_uploads_it_once(backing):
    store = backing.machine("web")
    uploads = []
    if backing.kind == "s3":
        store.client.meta.events.register("before-call.s3.PutObject", lambda **kw: uploads.append(kw))
    data = b"the same weights" * 1000
    first, sha256 = _stage(store, data)
    second, again = _stage(backing.machine("other"), data)
    assert again == sha256
    assert store.adopt(first, sha256) is True
    assert store.adopt(second, sha256) is False
    assert not second.exists()
    assert backing.stored() == {sha256}
    assert len(uploads) == (1 if backing.kind == "s3" else 0)
    assert store.verified_path(sha256, len(data)).read_bytes() == data


@pytest.mark.parametrize("damage", ["altered", "longer", "empty"])
def test_a_blob_damaged_in_the_store_is_refused_then_repaired_by_the_next_adopt(backing, damage):
    web = backing.machine("web")
    data = b"intact model weights\n" * 5000
    path, sha256 = _stage(web, data)
    web.adopt(path, sha256)
    damaged = {"altered": data.replace(b"model", b"MODEL", 1), "longer": data + os.urandom(300_000),
               "empty": b""}[damage]
    backing.tamper(sha256, damaged)

    worker = backing.machine("worker")  # a machine that has no copy of its own yet
    with pytest.raises(IntegrityFailure) as refused:
        worker.verified_path(sha256, len(data))
    assert refused.value.code == "artifact_corrupted" and "does not match" in refused.value.message
    assert _local_files(worker) == []  # nothing of the damaged bytes is kept, not even a partial download

    path, _ = _stage(worker, data)
    assert worker.adopt(path, sha256) is False  # not new: rows committed before point at it
    assert backing.stored() == {sha256}
    assert backing.machine("third").verified_path(sha256, len(data)).read_bytes() == data


def test_a_missing_blob_is_refused_as_missing(backing):
    store = backing.machine("web")
    sha256 = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(sha256)
    with pytest.raises(IntegrityFailure) as missing:
        store.verified_path(sha256, 12)
    assert missing.value.code == "artifact_missing"


def test_removed_blobs_are_gone_for_every_machine(backing):
    web, worker = backing.machine("web"), backing.machine("worker")
    kept_data, gone_data = b"kept" * 100, b"gone" * 100
    kept_path, kept = _stage(web, kept_data)
    gone_path, gone = _stage(web, gone_data)
    web.adopt(kept_path, kept)
    web.adopt(gone_path, gone)
    assert worker.verified_path(gone, len(gone_data)).read_bytes() == gone_data  # the worker has a copy too
    web.remove([gone])
    assert backing.stored() == {kept}
    assert not web.exists(gone) and not worker.exists(gone)
    with pytest.raises(IntegrityFailure):
        web.verified_path(gone, len(gone_data))
    assert worker.verified_path(kept, len(kept_data)).read_bytes() == kept_data


def test_two_machines_adopting_the_same_digest_at_once_store_it_once_intact(backing):
    machines = [backing.machine("web"), backing.machine("worker")]
    for round_ in range(8):
        data = f"round {round_}\n".encode() * 20_000
        staged = [_stage(store, data) for store in machines]
        barrier, results, errors = threading.Barrier(2), [None, None], []

        def adopt(i: int, staged=staged, barrier=barrier, results=results, errors=errors) -> None:
            try:
                barrier.wait(timeout=30)
                results[i] = machines[i].adopt(*staged[i])
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=adopt, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert results.count(True) == 1, results  # exactly one writer created it: the other kept theirs
        sha256 = staged[0][1]
        for store in (*machines, backing.machine("reader")):
            assert store.verified_path(sha256, len(data)).read_bytes() == data
    assert len(backing.stored()) == 8


def test_a_too_large_upload_leaves_nothing_staged_nor_stored(backing):
    store = backing.machine("web")
    stage = store.staging_dir()
    with pytest.raises(TooLarge):
        store.stage_stream(io.BytesIO(os.urandom(5000)), stage / "upload", max_bytes=4096, field="model")
    assert backing.stored() == set()


def test_a_failed_write_removes_the_blobs_it_adopted_and_its_staging(backing, session):
    store = backing.machine("web")
    with pytest.raises(RuntimeError), staged_write(session, store) as staging:
        path = staging.root / "upload"
        sha256, _ = store.stage_stream(io.BytesIO(b"adopted, then the transaction failed"), path, 1024, "model")
        begin_write(session)
        staging.adopt(path, sha256)
        assert backing.stored() == {sha256}
        raise RuntimeError("the commit failed")
    assert backing.stored() == set()
    assert not staging.root.exists()
    assert _local_files(store) == []  # no staging file, and no cached copy of a blob that is gone


def test_idle_staging_and_partial_downloads_are_swept(backing):
    store = backing.machine("web")
    old, recent = store.staging_dir(), store.staging_dir()
    for stage in (old, recent):
        (stage / "weights.bin").write_bytes(b"w" * 1000)
    when = time.time() - 7 * 3600
    for path in (old / "weights.bin", old):
        os.utime(path, (when, when))
    part = None
    if isinstance(store, S3BlobStore):  # a download a killed process left half-written
        part = store.cache_root / "ab" / f"{PART_PREFIX}x"
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"half")
        os.utime(part, (when, when))
    assert store.sweep_staging(6 * 3600) == [old]
    assert not old.exists() and recent.exists()
    assert part is None or not part.exists()


# -- what only the S3 backend has: its local cache -----------------------------------------------


def _s3_store(s3_bucket, root: Path, cache_max_bytes: int) -> S3BlobStore:
    store = S3BlobStore(root, s3_bucket.client, s3_bucket.name, PREFIX, cache_max_bytes=cache_max_bytes)
    store.ensure()
    return store


def test_a_damaged_cached_copy_is_fetched_again_from_the_bucket(s3_bucket, tmp_path):
    store = _s3_store(s3_bucket, tmp_path / "web", 1024 * 1024)
    data = b"cached weights" * 100
    path, sha256 = _stage(store, data)
    store.adopt(path, sha256)
    cached = store.cache_path(sha256)
    assert cached.read_bytes() == data  # the adopted file became this machine's copy: no download
    cached.write_bytes(b"bit rot on the local disk")
    assert store.verified_path(sha256, len(data)).read_bytes() == data


def test_the_cache_keeps_to_its_budget_evicting_the_least_recently_used(s3_bucket, tmp_path):
    store = _s3_store(s3_bucket, tmp_path / "web", cache_max_bytes=250_000)
    digests = []
    for i in range(4):
        path, sha256 = _stage(store, os.urandom(100_000))
        store.adopt(path, sha256)
        digests.append(sha256)
        when = time.time() - 3600 + i  # used an hour ago, oldest first: past the in-use grace
        os.utime(store.cache_path(sha256), (when, when))
    reader = _s3_store(s3_bucket, tmp_path / "reader", cache_max_bytes=250_000)
    for sha256 in digests[:2]:
        reader.verified_path(sha256, 100_000)
    cached = {p.name for p in reader.cache_root.rglob("*") if p.is_file()}
    assert cached == set(digests[:2])
    assert sum(p.stat().st_size for p in store.cache_root.rglob("*") if p.is_file()) <= 250_000
    assert store.verified_path(digests[0], 100_000).stat().st_size == 100_000  # evicted: fetched again


def test_the_bucket_is_checked_at_start(s3_bucket, tmp_path):
    from registry_db.errors import StorageUnavailable

    store = S3BlobStore(tmp_path, s3_bucket.client, "boas-no-such-bucket", PREFIX)
    with pytest.raises(StorageUnavailable) as unreachable:
        store.ensure()
    assert "boas-no-such-bucket" in unreachable.value.message
