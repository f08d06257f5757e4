"""Datasets registered in place over HTTP: from a mounted directory and from a bucket, stored exactly as an upload;
every hostile source refused naming `source`, leaving no row, no blob and no staging file; admins only."""

from __future__ import annotations

import dataclasses
import io
import json
import os
from pathlib import Path

import pytest

from audits.synth import generate_cohort
from boas.app import create_app
from registry_db.sources import S3Place
from tests.audits.test_identifiers import nir
from tests.conftest import _session_on
from tests.e2e.test_audits_api import DATASHEET
from tests.e2e.test_hostile_uploads import _leftovers
from tests.e2e.test_versions_api import assert_error

N = 300
PREFIX = "cohorts/2024/"


def _metadata(**overrides) -> dict:
    return {"name": "Cohorte", "label_column": "outcome", "sensitive_columns": ["sex", "region"], "row_key": "row_id",
            "datasheet": DATASHEET, **overrides}


def _cohort_bytes(fmt: str = "parquet", seed: int = 31, **extra) -> bytes:
    frame = generate_cohort(N, seed=seed).assign(**extra)
    if fmt == "csv":
        return frame.to_csv(index=False).encode()
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.fixture
def root(tmp_path) -> Path:
    directory = tmp_path / "mnt" / "cohorts"
    (directory / "2024").mkdir(parents=True)
    return directory


@pytest.fixture
def outside(tmp_path) -> Path:
    """A readable table outside every root: what an escape would reach."""
    path = tmp_path / "secret.parquet"
    path.write_bytes(_cohort_bytes(seed=99))
    return path


def _app(settings, connection):
    application = create_app(settings, session_factory=lambda: _session_on(connection))
    application.config["TESTING"] = True
    return application.test_client()


@pytest.fixture
def import_settings(settings, root):
    return dataclasses.replace(settings, dataset_import_roots=(root,))


@pytest.fixture
def importing(import_settings, connection):
    return _app(import_settings, connection)


def _import(client, headers, source, metadata=None):
    return client.post("/api/v1/datasets/import", headers=headers,
                       json={"source": source, "metadata": metadata if metadata is not None else _metadata()})


def _upload(client, headers, payload: bytes, filename: str, **meta):
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(payload), filename), "metadata": json.dumps(_metadata(**meta))})


def _nothing_left(client, admin, data_dir: Path) -> None:
    assert client.get("/api/v1/datasets", headers=admin).get_json() == []
    assert _leftovers(data_dir) == []


def test_a_file_under_a_root_is_stored_exactly_as_its_upload_and_the_log_names_the_source(importing, make_account,
                                                                                          root, import_settings):
    _, admin = make_account("admin")
    payload = _cohort_bytes("csv")
    (root / "2024" / "cohort.csv").write_bytes(payload)
    response = _import(importing, admin, "file:cohorts/2024/cohort.csv")
    assert response.status_code == 201, response.get_json()
    imported = response.get_json()
    uploaded = _upload(importing, admin, payload, "cohort.csv", name="Cohorte envoyée").get_json()
    same = ("sha256", "size", "format", "original_sha256", "original_size", "original_format", "row_count", "columns")
    assert {k: imported[k] for k in same} == {k: uploaded[k] for k in same}
    assert imported["format"] == "parquet" and imported["original_format"] == "csv" and imported["row_count"] == N
    stored = {p.name for p in (import_settings.data_dir / "blobs").rglob("*") if p.is_file()}
    assert stored == {imported["sha256"]}
    assert not any((import_settings.data_dir / "tmp").rglob("*.csv"))
    [event] = importing.get("/api/v1/audit-log?action=dataset.imported", headers=admin).get_json()["items"]
    assert event["object_ref"] == str(imported["id"])
    assert event["details"]["source"] == "file:cohorts/2024/cohort.csv"
    assert event["details"]["uploaded_sha256"] == imported["original_sha256"]
    assert (root / "2024" / "cohort.csv").read_bytes() == payload  # the source is read, never moved


def test_an_object_under_a_configured_prefix_is_stored_as_its_upload(settings, connection, make_account, root,
                                                                     s3_bucket):
    s3 = dataclasses.replace(settings, s3_endpoint_url=s3_bucket.endpoint,
                             dataset_import_s3=(S3Place(s3_bucket.name, PREFIX),))
    client = _app(s3, connection)
    _, admin = make_account("admin")
    payload = _cohort_bytes("parquet")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{PREFIX}cohort.parquet", Body=payload)
    response = _import(client, admin, f"s3://{s3_bucket.name}/{PREFIX}cohort.parquet")
    assert response.status_code == 201, response.get_json()
    imported = response.get_json()
    uploaded = _upload(client, admin, payload, "cohort.parquet", name="Cohorte envoyée").get_json()
    assert (imported["sha256"], imported["original_sha256"], imported["row_count"]) == (
        uploaded["sha256"], uploaded["original_sha256"], N)
    [event] = client.get("/api/v1/audit-log?action=dataset.imported", headers=admin).get_json()["items"]
    assert event["details"]["source"] == f"s3://{s3_bucket.name}/{PREFIX}cohort.parquet"
    assert s3_bucket.object_keys() == [f"{PREFIX}cohort.parquet"]  # the bucket is read, never written


# -- hostile sources: each refused naming `source`, nothing left -------------------------------------------------


def _symlink_file(root: Path, outside: Path) -> str:
    (root / "2024" / "link.parquet").symlink_to(outside)
    return "file:cohorts/2024/link.parquet"


def _symlink_dir(root: Path, outside: Path) -> str:
    (root / "escape").symlink_to(outside.parent)
    return f"file:cohorts/escape/{outside.name}"


def _symlink_inside(root: Path, _outside: Path) -> str:
    (root / "2024" / "alias.parquet").symlink_to(root / "2024" / "real.parquet")
    return "file:cohorts/2024/alias.parquet"


def _hard_link(root: Path, outside: Path) -> str:
    os.link(outside, root / "2024" / "hard.parquet")
    return "file:cohorts/2024/hard.parquet"


def _fifo(root: Path, _outside: Path) -> str:
    os.mkfifo(root / "2024" / "pipe.csv")
    return "file:cohorts/2024/pipe.csv"


PLAIN = "empty parts, '.', '..', backslashes and control characters are refused"
ABSOLUTE = "not an absolute path or file:// URL: use file:<root>/<path> or s3://<bucket>/<key>"
NO_URL = "unsupported scheme, BOAS fetches no URL: use file:<root>/<path> or s3://<bucket>/<key>"
LINK = "symbolic links are not followed"
NOT_REGULAR = "not a regular file (a directory, device or pipe)"
# case -> (the source, built from the root and a file outside it; the message `source` must carry)
HOSTILE_FILES = {
    "parent traversal": (lambda root, outside: f"file:cohorts/../{outside.name}", PLAIN),
    "parent at the end": (lambda root, outside: "file:cohorts/2024/..", PLAIN),
    "dot component": (lambda root, outside: "file:cohorts/./2024/x.parquet", PLAIN),
    "empty component": (lambda root, outside: "file:cohorts//x.parquet", PLAIN),
    "backslash": (lambda root, outside: "file:cohorts/..\\secret.parquet", PLAIN),
    "control character": (lambda root, outside: "file:cohorts/2024/x\n.parquet", PLAIN),
    "root alone": (lambda root, outside: "file:cohorts", PLAIN),
    "absolute path": (lambda root, outside: f"file:{outside}", ABSOLUTE),
    "absolute path inside the root": (lambda root, outside: f"file:{root}/2024/x.parquet", ABSOLUTE),
    "file URL": (lambda root, outside: f"file://{outside}", ABSOLUTE),
    "bare absolute path": (lambda root, outside: str(outside), "no scheme: use file:<root>/<path> or s3://<bucket>/<key>"),
    "bare relative path": (lambda root, outside: "cohorts/2024/x.parquet", "no scheme: use file:<root>/<path> or s3://<bucket>/<key>"),
    "unknown root": (lambda root, outside: "file:other/2024/x.parquet",
                     "not under a configured root (its first part names the root, e.g. file:cohorts/2024/cohort.parquet)"),
    "http": (lambda root, outside: "http://169.254.169.254/latest/meta-data/", NO_URL),
    "https": (lambda root, outside: "https://example.org/cohort.parquet", NO_URL),
    "ftp": (lambda root, outside: "ftp://example.org/cohort.parquet", NO_URL),
    "s3 without configured bucket": (lambda root, outside: "s3://some-bucket/cohort.parquet",
                                     "not under a configured bucket and prefix"),
    "missing file": (lambda root, outside: "file:cohorts/2024/absent.parquet", "no such file"),
    "file under a file": (lambda root, outside: "file:cohorts/2024/real.parquet/x", "no such file"),
    "directory": (lambda root, outside: "file:cohorts/2024", NOT_REGULAR),
    "symbolic link to a file outside": (_symlink_file, LINK),
    "symbolic link to a directory outside": (_symlink_dir, LINK),
    "symbolic link inside the root": (_symlink_inside, LINK),
    "hard link to a file outside": (_hard_link, "has other hard links, which may be outside the root"),
    "fifo": (_fifo, NOT_REGULAR),
    "not a string": (lambda root, outside: ["file:cohorts/2024/x.parquet"], "Not a valid string."),
    "too long": (lambda root, outside: "file:cohorts/" + "a/" * 600 + "x.parquet", "at most 1024 characters"),
    "lone surrogate in a name": (lambda root, outside: "file:cohorts/2024/\ud800.parquet",
                                 "not UTF-8 text: unpaired surrogates are refused"),
    "lone surrogate in an object key": (lambda root, outside: "s3://some-bucket/\udfff",
                                        "not UTF-8 text: unpaired surrogates are refused"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_a_hostile_file_source_is_refused_naming_source_and_leaves_nothing(case, importing, make_account, root,
                                                                           outside, import_settings):
    _, admin = make_account("admin")
    (root / "2024" / "real.parquet").write_bytes(_cohort_bytes())
    make_source, expected = HOSTILE_FILES[case]
    body = assert_error(_import(importing, admin, make_source(root, outside)), 422)
    assert body["errors"] == {"source": [expected]}
    _nothing_left(importing, admin, import_settings.data_dir)


def test_a_device_is_refused_as_not_a_regular_file(settings, connection, make_account):
    client = _app(dataclasses.replace(settings, dataset_import_roots=(Path("/dev"),)), connection)
    _, admin = make_account("admin")
    for device in ("null", "zero", "urandom"):
        body = assert_error(_import(client, admin, f"file:dev/{device}"), 422)
        assert body["errors"]["source"] == ["not a regular file (a directory, device or pipe)"]
    _nothing_left(client, admin, settings.data_dir)


def test_a_file_past_the_import_cap_is_413_and_leaves_nothing(import_settings, connection, make_account, root):
    payload = _cohort_bytes()
    client = _app(dataclasses.replace(import_settings, dataset_import_max_bytes=len(payload) - 1), connection)
    _, admin = make_account("admin")
    (root / "2024" / "big.parquet").write_bytes(payload)
    body = assert_error(_import(client, admin, "file:cohorts/2024/big.parquet"), 413, "too_large")
    assert body["errors"] == {"source": [f"larger than {len(payload) - 1} bytes"]}
    _nothing_left(client, admin, import_settings.data_dir)


@pytest.mark.parametrize("key", [
    "other/cohort.parquet",  # outside the prefix
    "cohorts/2024",  # the prefix without its slash: another key
    "cohorts/2024/../../other/cohort.parquet",
    "cohorts/2024//cohort.parquet",
    "cohorts/2024/absent.parquet",
    "cohorts/2024/",
])
def test_a_hostile_or_missing_object_is_refused_and_leaves_nothing(key, settings, connection, make_account,
                                                                   s3_bucket):
    client = _app(dataclasses.replace(settings, s3_endpoint_url=s3_bucket.endpoint,
                                      dataset_import_s3=(S3Place(s3_bucket.name, PREFIX),)), connection)
    _, admin = make_account("admin")
    for name in ("other/cohort.parquet", "cohorts/2024", f"{PREFIX}cohort.parquet"):
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=name, Body=_cohort_bytes())
    body = assert_error(_import(client, admin, f"s3://{s3_bucket.name}/{key}"), 422)
    assert set(body["errors"]) == {"source"}
    other = assert_error(_import(client, admin, f"s3://not-{s3_bucket.name}/{PREFIX}cohort.parquet"), 422)
    assert other["errors"]["source"] == ["not under a configured bucket and prefix"]
    _nothing_left(client, admin, settings.data_dir)


def test_an_object_past_the_import_cap_is_413_and_leaves_nothing(settings, connection, make_account, s3_bucket):
    payload = _cohort_bytes()
    client = _app(dataclasses.replace(settings, s3_endpoint_url=s3_bucket.endpoint, dataset_import_max_bytes=1000,
                                      dataset_import_s3=(S3Place(s3_bucket.name, PREFIX),)), connection)
    _, admin = make_account("admin")
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{PREFIX}cohort.parquet", Body=payload)
    body = assert_error(_import(client, admin, f"s3://{s3_bucket.name}/{PREFIX}cohort.parquet"), 413)
    assert body["errors"] == {"source": ["larger than 1000 bytes"]}
    _nothing_left(client, admin, settings.data_dir)


# -- who may, and when -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["evaluator", "author"])
def test_only_admins_may_register_in_place(role, importing, make_account, root, import_settings):
    (root / "2024" / "cohort.parquet").write_bytes(_cohort_bytes())
    _, headers = make_account(role)
    body = assert_error(_import(importing, headers, "file:cohorts/2024/cohort.parquet"), 403, "forbidden")
    assert "admin" in body["message"]
    # refused before the body is read: an invalid body is still a 403, not a 422 telling what is wrong with it
    assert_error(importing.post("/api/v1/datasets/import", headers=headers, json={"source": 1}), 403)
    assert_error(importing.post("/api/v1/datasets/import", json={"source": "file:cohorts/2024/cohort.parquet",
                                                                 "metadata": _metadata()}), 401)
    _, admin = make_account("admin")
    _nothing_left(importing, admin, import_settings.data_dir)


def test_with_no_source_configured_the_feature_is_off_and_says_so(client, make_account, settings):
    _, admin = make_account("admin")
    body = assert_error(_import(client, admin, "file:cohorts/2024/cohort.parquet"), 422, "validation_failed")
    assert body["errors"]["source"] == [
        "not enabled: the operator sets BOAS_DATASET_IMPORT_ROOTS or BOAS_DATASET_IMPORT_S3"]
    assert "not enabled" in body["message"]
    _nothing_left(client, admin, settings.data_dir)


def test_a_bad_source_and_bad_metadata_are_reported_together(importing, make_account, import_settings):
    _, admin = make_account("admin")
    body = assert_error(_import(importing, admin, "https://example.org/c.csv", _metadata(name="", row_key=3)), 422)
    assert {"source", "name", "row_key"} <= set(body["errors"])
    _nothing_left(importing, admin, import_settings.data_dir)


def test_an_identifier_bearing_file_is_refused_exactly_like_its_upload(importing, make_account, root,
                                                                       import_settings):
    _, admin = make_account("admin")
    payload = _cohort_bytes("csv", code=[nir(i, sep="-") for i in range(N)])
    (root / "2024" / "nir.csv").write_bytes(payload)
    imported = assert_error(_import(importing, admin, "file:cohorts/2024/nir.csv"), 422)
    uploaded = assert_error(_upload(importing, admin, payload, "nir.csv"), 422)
    assert imported == uploaded
    assert [m for m in imported["errors"]["file"] if m.startswith("column 'code' ") and "nir" in m]
    _nothing_left(importing, admin, import_settings.data_dir)


def test_the_import_answers_as_documented_under_fuzzing(importing, make_account, root):
    """Generated bodies, valid and not, from an admin and an evaluator, with a root configured: never a 5xx,
    every answer as the OpenAPI document says."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    (root / "2024" / "cohort.csv").write_bytes(_cohort_bytes("csv"))
    identities = {role: make_account(role)[1] for role in ("admin", "evaluator")}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", importing.application)
    [operation] = [result.ok() for result in schema.get_all_operations()
                   if result.ok().label == "POST /api/v1/datasets/import"]
    statuses: set[int] = set()

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)), who=st.sampled_from(sorted(identities)))
    def call(case, who):
        response = case.call(headers=identities[who])
        statuses.add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                                 response_schema_conformance], headers=identities[who])

    call()
    assert {403, 422} <= statuses
