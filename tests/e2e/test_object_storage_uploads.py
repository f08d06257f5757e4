"""Uploads over HTTP with the S3 backend: hostile ones leave no object, no staging or cached file and no row;
good ones are stored under their digests, served verified, refused when damaged in the bucket, repaired."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil

import pytest

from benchmarks.tar_bomb_bench import CASES
from boas.app import create_app
from tests.conftest import _session_on
from tests.e2e.test_hostile_uploads import HOSTILE, _leftovers
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version

PREFIX = "boas/e2e/"
pytestmark = pytest.mark.slow  # a server (S3) and an app per test: about two minutes


@pytest.fixture
def s3_settings(settings, s3_bucket):
    return dataclasses.replace(settings, blob_backend="s3", s3_endpoint_url=s3_bucket.endpoint,
                               s3_bucket=s3_bucket.name, s3_prefix=PREFIX)


@pytest.fixture
def s3_client(s3_settings, connection):
    application = create_app(s3_settings, session_factory=lambda: _session_on(connection))
    application.config["TESTING"] = True
    return application.test_client()


def _nothing_left(client, author, slug, s3_bucket, data_dir) -> None:
    assert client.get(f"/api/v1/algorithms/{slug}/versions", headers=author).get_json() == []
    assert s3_bucket.object_keys() == []
    assert _leftovers(data_dir) == []
    cache = data_dir / "cache"
    assert not cache.exists() or [p for p in cache.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_archive_is_refused_and_leaves_nothing_in_the_bucket(case, s3_client, make_account, s3_settings,
                                                                       s3_bucket):
    make_archive, filename, status = HOSTILE[case]
    _, author = make_account("author")
    algo = create_algorithm(s3_client, author)
    response = upload_version(s3_client, author, algo["slug"], "1.0.0", make_archive(), filename=filename)
    assert assert_error(response, status)["errors"].get("model")
    _nothing_left(s3_client, author, algo["slug"], s3_bucket, s3_settings.data_dir)


@pytest.mark.parametrize(("case", "status"), [("pax-header", 413), ("zeros", 413), ("many-zeros", 422)])
def test_a_tar_bomb_is_refused_and_leaves_nothing_in_the_bucket(case, status, s3_client, make_account, s3_settings,
                                                                s3_bucket, tmp_path):
    archive = CASES[case](tmp_path / "bomb.tar.gz").read_bytes()
    _, author = make_account("author")
    algo = create_algorithm(s3_client, author)
    response = upload_version(s3_client, author, algo["slug"], "1.0.0", archive, filename="model.tar.gz")
    assert assert_error(response, status)["errors"]["model"]
    _nothing_left(s3_client, author, algo["slug"], s3_bucket, s3_settings.data_dir)


def test_an_upload_past_the_limit_is_413_and_leaves_nothing_in_the_bucket(s3_client, make_account, s3_settings,
                                                                          s3_bucket):
    _, author = make_account("author")
    algo = create_algorithm(s3_client, author)
    response = upload_version(s3_client, author, algo["slug"], "1.0.0", os.urandom(s3_settings.max_upload_bytes + 1000))
    assert "model" in assert_error(response, 413)["errors"]
    _nothing_left(s3_client, author, algo["slug"], s3_bucket, s3_settings.data_dir)


def test_a_version_is_stored_in_the_bucket_served_verified_and_repaired_after_damage(
        s3_client, make_account, model_zip, s3_settings, s3_bucket):
    _, author = make_account("author")
    algo = create_algorithm(s3_client, author)
    assert upload_version(s3_client, author, algo["slug"], "1.0.0", HOSTILE["parent traversal"][0]()).status_code == 422
    created = upload_version(s3_client, author, algo["slug"], "1.0.0", model_zip)
    assert created.status_code == 201, created.get_json()
    version = created.get_json()
    digests = {f["sha256"] for f in version["manifest"]} | {version["archive"]["sha256"]}
    assert {key.rsplit("/", 1)[1] for key in s3_bucket.object_keys()} == digests
    assert all(key.startswith(f"{PREFIX}blobs/sha256/") for key in s3_bucket.object_keys())
    assert not (s3_settings.data_dir / "blobs").exists()  # nothing stored locally but the cache
    assert not any((s3_settings.data_dir / "tmp").iterdir())
    base = f"/api/v1/algorithms/{algo['slug']}/versions"
    archive = s3_client.get(f"{base}/1.0.0/archive", headers=author)
    assert archive.status_code == 200 and archive.data == model_zip
    assert hashlib.sha256(archive.data).hexdigest() == version["archive"]["sha256"]

    entry = next(f for f in version["manifest"] if f["path"] == "MLmodel")
    key = f"{PREFIX}blobs/sha256/{entry['sha256'][:2]}/{entry['sha256']}"
    intact = s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read()
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=key, Body=intact.replace(b"flavors", b"FLAVORS"))
    shutil.rmtree(s3_settings.data_dir / "cache")  # as on a machine that has never read it
    broken = s3_client.get(f"{base}/1.0.0/artifacts/MLmodel", headers=author)
    assert assert_error(broken, 500, "artifact_corrupted")
    assert not [p for p in (s3_settings.data_dir / "cache").rglob("*") if p.is_file()]

    again = upload_version(s3_client, author, algo["slug"], "1.0.1", model_zip)
    assert again.status_code == 201, again.get_json()
    assert s3_bucket.client.get_object(Bucket=s3_bucket.name, Key=key)["Body"].read() == intact
    for number in ("1.0.1", "1.0.0"):  # the older version shares the content: repaired too
        response = s3_client.get(f"{base}/{number}/artifacts/MLmodel", headers=author)
        assert response.status_code == 200 and response.data == intact, number
