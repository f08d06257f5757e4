"""Tar bombs over HTTP: refused fast, nothing left in the staging area or the blob store."""

from __future__ import annotations

import time

import pytest

from benchmarks.tar_bomb_bench import CASES
from tests.e2e.test_hostile_uploads import _leftovers
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm, upload_version


@pytest.mark.parametrize(("case", "status"), [("pax-header", 413), ("zeros", 413), ("many-zeros", 422)])
def test_a_tar_bomb_upload_is_refused_in_under_a_second_and_leaves_nothing(case, status, client, make_account,
                                                                           settings, tmp_path):
    archive = CASES[case](tmp_path / "bomb.tar.gz").read_bytes()
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    start = time.monotonic()
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", archive, filename="model.tar.gz"),
                        status)
    assert time.monotonic() - start < 1.0
    assert body["errors"]["model"], body
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []
    assert _leftovers(settings.data_dir) == []
