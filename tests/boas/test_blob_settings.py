"""The blob backend comes from settings only, and a wrong one stops the process at start with a clear
``SettingsError`` naming the variable, never a 500 on the first upload."""

from __future__ import annotations

import dataclasses

import pytest

from boas.config import Settings, SettingsError, load_settings
from boas.runtime import build_blob_store, build_storage
from registry_db.blobs import FilesystemBlobStore
from registry_db.blobs_s3 import S3BlobStore

S3 = {"BOAS_BLOB_BACKEND": "s3", "BOAS_S3_BUCKET": "boas-artifacts"}


@pytest.mark.parametrize(("env", "needles"), [
    ({"BOAS_BLOB_BACKEND": "nfs"}, ("BOAS_BLOB_BACKEND", "'fs'", "'s3'")),
    ({"BOAS_BLOB_BACKEND": "s3"}, ("BOAS_S3_BUCKET",)),
    ({**S3, "BOAS_S3_BUCKET": "Boas_Artifacts"}, ("BOAS_S3_BUCKET", "bucket name")),
    ({**S3, "BOAS_S3_BUCKET": "ab"}, ("BOAS_S3_BUCKET",)),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "ftp://s3.example.org"}, ("BOAS_S3_ENDPOINT_URL",)),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "s3.example.org"}, ("BOAS_S3_ENDPOINT_URL",)),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "https://key:secret@s3.example.org"}, ("BOAS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID")),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "https://s3.example.org/other-bucket"}, ("BOAS_S3_ENDPOINT_URL",)),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "https://s3.example.org:99999"}, ("BOAS_S3_ENDPOINT_URL",)),
    ({**S3, "BOAS_S3_ENDPOINT_URL": "https://s3.example.org/?x=1"}, ("BOAS_S3_ENDPOINT_URL",)),
    ({**S3, "BOAS_S3_PREFIX": "../other-tenant"}, ("BOAS_S3_PREFIX",)),
    ({**S3, "BOAS_S3_PREFIX": "boas//prod"}, ("BOAS_S3_PREFIX",)),
    ({**S3, "BOAS_S3_PREFIX": "boas prod"}, ("BOAS_S3_PREFIX",)),
    ({**S3, "BOAS_BLOB_CACHE_MB": "100"}, ("BOAS_BLOB_CACHE_MB", "1024")),
    ({**S3, "BOAS_MAX_UPLOAD_MB": "6000", "BOAS_BLOB_CACHE_MB": "8000"}, ("BOAS_MAX_UPLOAD_MB", "5120")),
])
def test_a_wrong_blob_setting_is_refused_naming_the_variable(env, needles):
    with pytest.raises(SettingsError) as refused:
        load_settings(env)
    for needle in needles:
        assert needle in str(refused.value), (needle, str(refused.value))


def test_object_storage_settings_are_read_and_normalised():
    settings = load_settings({**S3, "BOAS_S3_ENDPOINT_URL": "https://s3.example.org:9000/",
                              "BOAS_S3_PREFIX": "/boas/prod", "BOAS_BLOB_CACHE_MB": "2048"})
    assert settings.blob_backend == "s3" and settings.s3_bucket == "boas-artifacts"
    assert settings.s3_endpoint_url == "https://s3.example.org:9000"
    assert settings.s3_prefix == "boas/prod/"
    assert settings.blob_cache_bytes == 2048 * 1024 * 1024
    assert settings.max_resumable_bytes == 2048 * 1024 * 1024  # an object is read back through the cache
    assert load_settings({}).blob_backend == "fs"  # the default stays the data directory
    assert load_settings({"BOAS_MAX_RESUMABLE_MB": "20000"}).max_resumable_bytes == 20000 * 1024 * 1024
    assert load_settings({**S3, "BOAS_MAX_RESUMABLE_MB": "20000", "BOAS_BLOB_CACHE_MB": "40000"}
                         ).max_resumable_bytes == 5120 * 1024 * 1024  # one object, one PUT


def test_the_default_backend_is_the_data_directory(tmp_path):
    store = build_storage(Settings(data_dir=tmp_path / "data")).blobs
    assert isinstance(store, FilesystemBlobStore)
    assert (tmp_path / "data" / "blobs" / "sha256").is_dir()


def test_the_s3_backend_is_built_from_settings_and_reaches_its_bucket(tmp_path, s3_bucket):
    settings = dataclasses.replace(load_settings({**s3_bucket.env("boas/prod")}), data_dir=tmp_path / "data")
    store = build_blob_store(settings)
    assert isinstance(store, S3BlobStore)
    assert store.bucket == s3_bucket.name and store.prefix == "boas/prod/"
    assert store.key_for("ab" * 32) == f"boas/prod/blobs/sha256/ab/{'ab' * 32}"
    assert not (tmp_path / "data" / "blobs").exists()


def test_a_bucket_that_does_not_answer_stops_the_process_at_start(tmp_path, s3_bucket):
    env = {**s3_bucket.env(), "BOAS_S3_BUCKET": "boas-no-such-bucket"}
    settings = dataclasses.replace(load_settings(env), data_dir=tmp_path / "data")
    with pytest.raises(SettingsError) as refused:
        build_storage(settings)
    message = str(refused.value)
    assert "BOAS_S3_BUCKET" in message and "boas-no-such-bucket" in message and "AWS_" in message
