"""The authors' client on its own machine, no server: credentials file, packing, manifest paths, error lines."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from boas.client import ClientError, Credentials, check_model_directory, error_lines, load_credentials, pack_directory
from boas.client.credentials import credentials_path, normalise_server, save_credentials
from boas.client.local import manifest_parts
from registry_db.errors import ValidationFailed


def test_credentials_live_under_xdg_config_home_or_dot_config():
    assert credentials_path({"XDG_CONFIG_HOME": "/x", "HOME": "/h"}) == Path("/x/boas/credentials")
    assert credentials_path({"HOME": "/h"}) == Path("/h/.config/boas/credentials")


def test_saved_credentials_are_0600_in_a_0700_directory_and_replace_the_old_ones(tmp_path: Path):
    path = tmp_path / "cfg" / "boas" / "credentials"
    path.parent.mkdir(parents=True, mode=0o755)
    save_credentials(Credentials("http://127.0.0.1:1", "boas_first"), path)
    save_credentials(Credentials("https://boas.example.org", "boas_second"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_credentials(path) == Credentials("https://boas.example.org", "boas_second")
    assert [p.name for p in path.parent.iterdir()] == ["credentials"]  # no temporary file left
    assert "boas_second" not in repr(load_credentials(path))


def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path):
    path = tmp_path / "credentials"
    path.write_text(json.dumps({"server": "https://boas.example.org", "token": "boas_x"}))
    path.chmod(0o644)
    with pytest.raises(ClientError, match="readable by other users"):
        load_credentials(path)
    assert load_credentials(tmp_path / "absent") is None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://boas.example.org", "plain HTTP"),
        ("http://localhost.example.org", "plain HTTP"),
        ("http://127.0.0.1.nip.io", "plain HTTP"),
        ("ftp://boas.example.org", "http"),
        ("boas.example.org", "http"),
        ("https://user:pw@boas.example.org", "user name"),
    ],
)
def test_a_token_is_never_sent_to_a_doubtful_address(url: str, problem: str):
    with pytest.raises(ClientError, match=problem):
        normalise_server(url)
    assert normalise_server("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert normalise_server("http://[::1]:8000") == "http://[::1]:8000"
    assert normalise_server("http://localhost") == "http://localhost"
    assert normalise_server("https://boas.example.org/") == "https://boas.example.org"


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\b", "a/./b", "a//b", "", "a\x00b", "dir/", 7]
)
def test_manifest_names_that_could_leave_the_destination_are_refused(name):
    with pytest.raises(ClientError, match="refused"):
        manifest_parts(name)
    assert manifest_parts("sub/model.skops") == ("sub", "model.skops")


def test_packing_refuses_a_symbolic_link_rather_than_following_it(tmp_path: Path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text("flavors: {}\n")
    os.symlink("/etc/hostname", model / "model.pkl")
    with pytest.raises(ValidationFailed) as refused:
        pack_directory(model, tmp_path / "model.zip")
    assert list(refused.value.errors) == ["model"] and "symbolic link" in refused.value.message


def test_packing_is_reproducible(tmp_path: Path, mlflow_model_dir: Path):
    first = check_model_directory(mlflow_model_dir, tmp_path / "a.zip")
    check_model_directory(mlflow_model_dir, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first.execution == {"mode": "execute", "format": "skops", "reasons": []}


def test_error_lines_give_each_field_one_line_without_repeating_the_message():
    assert error_lines(
        "the model card is invalid",
        {"limitations": ["Not a valid string."], "performance_metrics.0.value": ["Not a valid number.", "x"]},
    ) == [
        "the model card is invalid",
        "limitations: Not a valid string.",
        "performance_metrics.0.value: Not a valid number.; x",
    ]
    assert error_lines("archive is empty", {"model": ["archive is empty"]}) == ["model: archive is empty"]
