"""The walk under an import root, alone: a directory swapped for a link while imports run never leads outside."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from registry_db.blobs import LocalStaging
from registry_db.errors import ValidationFailed
from registry_db.sources import FileSource, ImportSources, copy_source, parse_source

SWAPPER = """
import os, sys, time
root, outside, until = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
d, real = os.path.join(root, "d"), os.path.join(root, "d.real")
while time.monotonic() < until and not os.path.exists(os.path.join(root, "stop")):
    os.rename(d, real)
    os.symlink(outside, d)
    time.sleep(0.0002)  # as long a link as a directory, so that both states are met
    os.unlink(d)
    os.rename(real, d)
    time.sleep(0.0002)
"""


def test_a_directory_swapped_for_a_link_during_imports_never_yields_the_outside_file(tmp_path):
    """Another process swaps ``d`` for a link to a directory outside, as fast as it can, while imports run.

    A plain ``open(root / "d/c.csv")`` in the same race reads the outside file now and then (so the race is
    real); the walk from the root, component by component without following links, never does.
    """
    root = tmp_path / "cohorts"
    (root / "d").mkdir(parents=True)
    (root / "d" / "c.csv").write_bytes(b"inside\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "c.csv").write_bytes(b"outside\n")
    sources = ImportSources(roots=(root,))
    source = parse_source(sources, "file:cohorts/d/c.csv")
    assert source == FileSource(root, ("d", "c.csv"))
    staging = LocalStaging(tmp_path / "data")
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(root), str(tmp_path / "outside"), "60"])
    ours = {"inside": 0, "refused": 0}
    naive = {"inside": 0, "outside": 0, "missing": 0}
    try:
        for i in range(4000):
            dest = tmp_path / f"copy-{i}"
            try:
                copy_source(sources, source, dest, staging.stage_stream)
            except ValidationFailed as exc:
                assert exc.errors["source"][0] in ("symbolic links are not followed", "no such file")
                ours["refused"] += 1
            else:
                assert dest.read_bytes() == b"inside\n"
                ours["inside"] += 1
                dest.unlink()
            try:
                naive["inside" if (root / "d" / "c.csv").read_bytes() == b"inside\n" else "outside"] += 1
            except OSError:
                naive["missing"] += 1
    finally:
        (root / "stop").touch()
        swapper.wait(timeout=30)
    assert naive["outside"] > 0, naive  # the race ran, and a plain open loses it
    assert ours["inside"] > 0 and ours["refused"] > 0, ours


@pytest.mark.parametrize("raw", ["file:cohorts/c.csv", "s3://bucket/c.csv", "https://example.org/c.csv"])
def test_with_nothing_configured_every_source_is_refused_as_not_enabled(raw):
    with pytest.raises(ValidationFailed) as caught:
        parse_source(ImportSources(), raw)
    assert caught.value.errors == {"source": [
        "not enabled: the operator sets BOAS_DATASET_IMPORT_ROOTS or BOAS_DATASET_IMPORT_S3"]}


def test_the_root_is_named_by_its_last_component_and_the_rest_is_kept_as_given(tmp_path: Path):
    sources = ImportSources(roots=(tmp_path / "a" / "cohorts", tmp_path / "b" / "registres"))
    assert str(parse_source(sources, "file:registres/2024/x y.parquet")) == "file:registres/2024/x y.parquet"
    assert parse_source(sources, "file:registres/2024/x y.parquet").root == tmp_path / "b" / "registres"
