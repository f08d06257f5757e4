"""The settings of datasets registered in place: read once, checked at start, a clear error naming the variable."""

from __future__ import annotations

import dataclasses
import os

import pytest

from boas.config import GB, Settings, SettingsError, load_settings
from boas.runtime import build_storage
from registry_db.sources import S3Place


def _env(tmp_path, **variables) -> dict[str, str]:
    return {"BOAS_DATA_DIR": str(tmp_path / "data"), **variables}


def test_by_default_nothing_may_be_registered_in_place(tmp_path):
    settings = load_settings(_env(tmp_path))
    assert settings.dataset_import_roots == () and settings.dataset_import_s3 == ()
    assert settings.dataset_import_max_bytes == 200 * GB
    assert not build_storage(settings).imports.enabled


def test_roots_are_split_on_the_path_separator_and_commas(tmp_path):
    roots = [tmp_path / name for name in ("cohorts", "extractions", "registres")]
    for root in roots:
        root.mkdir()
    raw = f"{roots[0]}{os.pathsep}{roots[1]} , {roots[2]}"
    settings = load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_ROOTS=raw, BOAS_DATASET_IMPORT_MAX_GB="3"))
    assert settings.dataset_import_roots == tuple(roots)
    imports = build_storage(settings).imports
    assert imports.enabled and imports.max_bytes == 3 * GB
    assert imports.root_named("extractions") == roots[1]


@pytest.mark.parametrize(("raw", "says"), [
    ("cohorts", "absolute directories"),
    ("./cohorts", "absolute directories"),
    ("/", "absolute directories"),
])
def test_a_root_that_is_not_an_absolute_directory_stops_the_start(tmp_path, raw, says):
    with pytest.raises(SettingsError, match="BOAS_DATASET_IMPORT_ROOTS") as caught:
        load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_ROOTS=raw))
    assert says in str(caught.value)


def test_a_missing_root_or_two_roots_of_one_name_stop_the_start(tmp_path):
    with pytest.raises(SettingsError, match="not an existing directory"):
        load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_ROOTS=str(tmp_path / "absent")))
    (tmp_path / "a" / "cohorts").mkdir(parents=True)
    (tmp_path / "b" / "cohorts").mkdir(parents=True)
    with pytest.raises(SettingsError, match="cannot share one: 'cohorts'"):
        load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_ROOTS=f"{tmp_path}/a/cohorts,{tmp_path}/b/cohorts"))
    with pytest.raises(SettingsError, match="not an existing directory"):
        Settings(data_dir=tmp_path / "data", dataset_import_roots=(tmp_path / "absent",))


def test_buckets_and_prefixes_are_parsed_and_checked(tmp_path):
    settings = load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_S3="cohortes/snds/2024/, s3://registres"))
    assert settings.dataset_import_s3 == (S3Place("cohortes", "snds/2024/"), S3Place("registres", ""))
    for bad in ("Not_A_Bucket/x", "cohortes/../x", "http://example.org/x"):
        with pytest.raises(SettingsError, match="BOAS_DATASET_IMPORT_S3"):
            load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_S3=bad))
    with pytest.raises(SettingsError, match="BOAS_DATASET_IMPORT_MAX_GB"):
        load_settings(_env(tmp_path, BOAS_DATASET_IMPORT_MAX_GB="0"))


def test_an_import_bucket_is_asked_at_start(tmp_path, s3_bucket):
    settings = Settings(data_dir=tmp_path / "data", s3_endpoint_url=s3_bucket.endpoint,
                        dataset_import_s3=(S3Place(s3_bucket.name, "cohorts/"),))
    assert build_storage(settings).imports.s3 == (S3Place(s3_bucket.name, "cohorts/"),)
    missing = dataclasses.replace(settings, dataset_import_s3=(S3Place(f"absent-{s3_bucket.name}"),))
    with pytest.raises(SettingsError, match=f"BOAS_DATASET_IMPORT_S3: bucket 'absent-{s3_bucket.name}' is not "
                                            "reachable"):
        build_storage(missing)
