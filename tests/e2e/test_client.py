"""``boas login``, ``push`` and ``pull`` against a real gunicorn server, on SQLite and on PostgreSQL.

Acceptance (issue 13, item 6): the token is stored in a 0600 file; a push creates the version, applies
the card and prints the baseline checklist; a pull verifies every digest, and a file corrupted on the
server or altered on the way is refused with nothing kept; a directory the server would refuse is
refused locally first, with the very lines the server answers for it.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import os
import pickle
import shutil
import stat
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml

from boas.client import ApiError, BoasClient, ClientError
from model_cards.examples import load_example_card
from tests.conftest import BACKENDS
from tests.e2e.gunicorn_deploy import BOAS, HTTP_TIMEOUT, Deployment, deploy
from tests.factories import algorithm_payload

pytestmark = pytest.mark.slow

LEFT_OUT = "card.training_data.label_definition"  # a mandatory item the pushed card leaves out


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, tmp_path_factory) -> Iterator[Deployment]:
    with deploy(request.param, tmp_path_factory.mktemp(f"client-{request.param}"), workers=2) as dep:
        yield dep


class Author:
    """One author's machine: its own config directory, and the ``boas`` command run there."""

    def __init__(self, dep: Deployment, home: Path):
        self.dep, self.home = dep, home
        self.config = home / "config"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BOAS_")}
        self.env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(self.config)})

    def boas(self, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BOAS), *args],
            env={**self.env, **env},
            cwd=self.home,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=HTTP_TIMEOUT,
        )

    def login(self) -> None:
        result = self.boas("login", "--server", self.dep.base_url, "--token", self.dep.token)
        assert result.returncode == 0, result.stderr

    def new_algorithm(self) -> str:
        response = requests.post(
            self.dep.api("/algorithms"), json=algorithm_payload(), headers=self.dep.author, timeout=HTTP_TIMEOUT
        )
        assert response.status_code == 201, response.text
        return response.json()["slug"]


@pytest.fixture
def author(deployment: Deployment, tmp_path: Path) -> Author:
    return Author(deployment, tmp_path)


def _errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _model_copy(source: Path, dest: Path, extra: str | None = None) -> Path:
    shutil.copytree(source, dest)
    if extra is not None:  # a file of its own, so its blob is shared with no other test
        (dest / "notes.txt").write_text(extra)
    return dest


def _card_yaml(path: Path) -> Path:
    card = copy.deepcopy(load_example_card())
    card["training_data"].pop("label_definition")
    path.write_text(yaml.safe_dump(card, allow_unicode=True, sort_keys=False))
    return path


# -- login ----------------------------------------------------------------------------------


def test_login_checks_the_token_and_stores_it_in_a_0600_file_without_printing_it(author: Author):
    result = author.boas("login", "--server", author.dep.base_url + "/", stdin=author.dep.token + "\n")
    assert result.returncode == 0, result.stderr
    assert "author@example.org" in result.stdout
    assert author.dep.token not in result.stdout + result.stderr  # the prompt hides it too
    stored = author.config / "boas" / "credentials"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert json.loads(stored.read_text()) == {"server": author.dep.base_url, "token": author.dep.token}


def test_a_bad_token_is_one_clear_line_and_nothing_is_stored(author: Author, mlflow_model_dir: Path):
    result = author.boas("login", "--server", author.dep.base_url, "--token", "boas_not-a-real-token")
    assert result.returncode == 1
    assert result.stderr.splitlines() == _errors(result) and len(_errors(result)) == 1
    assert "refused the token" in result.stderr and "boas_not-a-real-token" not in result.stderr
    assert not (author.config / "boas" / "credentials").exists()

    slug = author.new_algorithm()
    pushed = author.boas(
        "push",
        str(mlflow_model_dir),
        "--algorithm",
        slug,
        "--version",
        "1.0.0",
        "--server",
        author.dep.base_url,
        BOAS_TOKEN="boas_revoked-or-mistyped",
    )
    assert pushed.returncode == 1 and len(_errors(pushed)) == 1 and "refused the token" in pushed.stderr
    assert (
        requests.get(
            author.dep.api(f"/algorithms/{slug}/versions/1.0.0"), headers=author.dep.author, timeout=HTTP_TIMEOUT
        ).status_code
        == 404
    )


def test_push_without_login_says_how_to_log_in(author: Author, mlflow_model_dir: Path):
    result = author.boas("push", str(mlflow_model_dir), "--algorithm", "x", "--version", "1.0.0")
    assert result.returncode == 1 and _errors(result) == [
        "error: no server: pass --server URL, set BOAS_SERVER_URL, or run 'boas login --server URL'"
    ]


# -- push -----------------------------------------------------------------------------------


def test_push_creates_the_version_applies_the_card_and_prints_what_is_missing(author: Author, mlflow_model_dir: Path):
    author.login()
    slug = author.new_algorithm()
    card = _card_yaml(author.home / "card.yaml")
    result = author.boas("push", str(mlflow_model_dir), "--algorithm", slug, "--version", "1.0.0", "--card", str(card))
    assert result.returncode == 0, result.stderr
    assert "uploading [" in result.stderr and "100%" in result.stderr  # the progress bar
    assert f"created {slug}@1.0.0 (draft, {len(_files(mlflow_model_dir))} files)" in result.stdout

    version = requests.get(
        author.dep.api(f"/algorithms/{slug}/versions/1.0.0"), headers=author.dep.author, timeout=HTTP_TIMEOUT
    ).json()
    assert version["state"] == "draft" and version["execution"]["mode"] == "execute"
    assert version["card"]["limitations"] == load_example_card()["limitations"]  # the card was applied
    assert {f["path"] for f in version["manifest"]} == set(_files(mlflow_model_dir))
    baseline = requests.get(
        author.dep.api(f"/algorithms/{slug}/versions/1.0.0/baseline"), headers=author.dep.author, timeout=HTTP_TIMEOUT
    ).json()
    printed = {
        line.split("] ", 1)[1].split(":", 1)[0] for line in result.stdout.splitlines() if line.startswith("  missing [")
    }
    assert LEFT_OUT in printed and printed == {item["path"] for item in baseline["missing"]}
    assert "not publishable yet" in result.stdout

    again = author.boas("push", str(mlflow_model_dir), "--algorithm", slug, "--version", "1.0.0")
    assert again.returncode == 2 and len(_errors(again)) >= 1 and "1.0.0" in again.stderr  # 409, one line


def test_a_refused_card_is_one_line_per_field_and_can_be_applied_again(author: Author, mlflow_model_dir: Path):
    author.login()
    slug = author.new_algorithm()
    bad = author.home / "bad.yaml"
    bad.write_text("limitations: 12\nperformance_metrics:\n  - name: auc\n    value: 'high'\n")
    result = author.boas("push", str(mlflow_model_dir), "--algorithm", slug, "--version", "1.0.0", "--card", str(bad))
    assert result.returncode == 2
    assert f"run 'boas card {slug}@1.0.0 {bad}'" in result.stderr  # the draft exists: how to finish it
    response = requests.patch(
        author.dep.api(f"/algorithms/{slug}/versions/1.0.0/card"),
        json=yaml.safe_load(bad.read_text()),
        headers=author.dep.author,
        timeout=HTTP_TIMEOUT,
    )
    body = response.json()
    assert response.status_code == 422 and len(body["errors"]) >= 2
    lines = [line.removeprefix("error: ") for line in _errors(result)]
    assert lines == [body["message"]] + [f"{field}: {'; '.join(found)}" for field, found in body["errors"].items()]

    fixed = author.boas("card", f"{slug}@1.0.0", str(_card_yaml(author.home / "card.yaml")))
    assert fixed.returncode == 0, fixed.stderr
    assert "card applied" in fixed.stdout and f"  missing [transparency_of_training] {LEFT_OUT}:" in fixed.stdout


# -- refused locally first, in the server's words --------------------------------------------


def _no_signature(model: Path) -> None:
    text = (model / "MLmodel").read_text()
    start = text.index("signature:")
    end = next((i for i in range(start + 1, len(text)) if text[i - 1] == "\n" and not text[i].isspace()), len(text))
    (model / "MLmodel").write_text(text[:start] + text[end:])


class _RunsACommand:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _pickle_under_an_odd_name(model: Path) -> None:
    (model / "weights.bin").write_bytes(pickle.dumps(_RunsACommand()))


def _path_outside_the_directory(model: Path) -> None:
    text = (model / "MLmodel").read_text()
    (model / "MLmodel").write_text(text.replace("pickled_model: model.skops", "pickled_model: ../../etc/passwd"))


REFUSED: dict[str, tuple[Callable[[Path], None], str]] = {
    "no signature": (_no_signature, "signature: "),
    "pickle under an odd name": (_pickle_under_an_odd_name, "posix.system"),
    "MLmodel path outside the directory": (_path_outside_the_directory, "../../etc/passwd"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_directory_the_server_refuses_is_refused_locally_first_with_the_same_lines(
    case: str, author: Author, mlflow_model_dir: Path
):
    spoil, expected = REFUSED[case]
    model = _model_copy(mlflow_model_dir, author.home / "model")
    spoil(model)
    author.login()
    slug = author.new_algorithm()

    local = author.boas("push", str(model), "--algorithm", slug, "--version", "1.0.0")
    assert local.returncode == 2 and "uploading" not in local.stderr  # nothing was sent
    assert (
        requests.get(
            author.dep.api(f"/algorithms/{slug}/versions/1.0.0"), headers=author.dep.author, timeout=HTTP_TIMEOUT
        ).status_code
        == 404
    )
    remote = author.boas("push", str(model), "--algorithm", slug, "--version", "1.0.0", "--no-local-check")
    assert remote.returncode == 2 and "100%" in remote.stderr  # the server saw it and refused it
    assert _errors(local) == _errors(remote) and expected in local.stderr


# -- pull -----------------------------------------------------------------------------------


def _pushed(author: Author, model: Path) -> str:
    author.login()
    slug = author.new_algorithm()
    result = author.boas("push", str(model), "--algorithm", slug, "--version", "1.0.0")
    assert result.returncode == 0, result.stderr
    return slug


def _partials(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".partial-" in p.name]


def test_pull_downloads_every_file_and_verifies_its_digest(author: Author, mlflow_model_dir: Path):
    slug = _pushed(author, mlflow_model_dir)
    result = author.boas("pull", f"{slug}@1.0.0", "--dest", "out")
    assert result.returncode == 0, result.stderr
    assert "every sha256 verified" in result.stdout
    assert _files(author.home / "out") == _files(mlflow_model_dir)
    again = author.boas("pull", f"{slug}@1.0.0", "--dest", "out")  # never over existing files
    assert again.returncode == 1 and _errors(again) == ["error: out already exists and is not an empty directory"]


def test_a_file_corrupted_on_the_server_is_refused_and_nothing_is_kept(author: Author, mlflow_model_dir: Path):
    model = _model_copy(mlflow_model_dir, author.home / "model", extra=f"corrupt me {uuid.uuid4()}\n")
    slug = _pushed(author, model)
    digest = hashlib.sha256((model / "notes.txt").read_bytes()).hexdigest()
    blob = author.dep.data_dir / "blobs" / "sha256" / digest[:2] / digest
    blob.chmod(0o644)
    blob.write_bytes(b"tampered" + blob.read_bytes())

    result = author.boas("pull", f"{slug}@1.0.0", "--dest", "out")
    assert result.returncode == 1 and len(_errors(result)) == 1
    assert "does not match its recorded digest" in result.stderr
    assert not (author.home / "out").exists() and _partials(author.home) == []


class _TamperingProxy(http.server.ThreadingHTTPServer):
    """Forwards GETs to the real server and alters what comes back, as a hostile network or mirror could."""

    def __init__(self, upstream: str, alter: Callable[[str, bytes], bytes]):
        self.upstream, self.alter = upstream, alter
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                headers = {k: v for k, v in self.headers.items() if k.lower() == "authorization"}
                upstream = requests.get(proxy.upstream + self.path, headers=headers, timeout=HTTP_TIMEOUT)
                body = proxy.alter(self.path, upstream.content)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def _flip_artifact(path: str, body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 1]) if "/artifacts/" in path and path.endswith("MLmodel") else body


def _traversing_manifest(path: str, body: bytes) -> bytes:
    if "/artifacts/" in path or not path.endswith("/versions/1.0.0"):
        return body
    version = json.loads(body)
    version["manifest"][-1]["path"] = "../escaped.txt"
    return json.dumps(version).encode()


@pytest.mark.parametrize(
    ("alter", "message"),
    [
        (_flip_artifact, "MLmodel does not match the manifest"),
        (_traversing_manifest, "the manifest names a file outside the destination ('../escaped.txt')"),
    ],
)
def test_a_download_altered_on_the_way_is_refused_and_nothing_is_kept(
    author: Author, mlflow_model_dir: Path, alter, message: str
):
    slug = _pushed(author, mlflow_model_dir)
    (author.home / "work").mkdir()
    with _TamperingProxy(author.dep.base_url, alter) as proxy:
        result = author.boas(
            "pull", f"{slug}@1.0.0", "--dest", "work/out", "--server", proxy, BOAS_TOKEN=author.dep.token
        )
    assert result.returncode == 1 and len(_errors(result)) == 1 and message in result.stderr
    assert list((author.home / "work").iterdir()) == [] and not (author.home / "escaped.txt").exists()


# -- the importable client ------------------------------------------------------------------


def test_the_client_module_creates_uploads_patches_and_pulls(
    deployment: Deployment, mlflow_model_dir: Path, tmp_path: Path
):
    from boas.client import check_model_directory

    client = BoasClient(deployment.base_url, deployment.token)
    assert client.whoami()["role"] == "author"
    slug = client.create_algorithm(**algorithm_payload())["slug"]
    checked = check_model_directory(mlflow_model_dir, tmp_path / "model.zip")
    seen: list[tuple[int, int]] = []
    created = client.upload_version(
        slug, "2.0.0", checked.archive, progress=lambda done, total: seen.append((done, total))
    )
    assert created["state"] == "draft" and created["version"] == "2.0.0"
    assert len(seen) > 1 and seen[-1][0] == seen[-1][1] > checked.archive.stat().st_size  # the whole body, in steps
    patched = client.patch_card(slug, "2.0.0", {"limitations": "Not validated outside mainland France."})
    assert patched["card"]["limitations"] == "Not validated outside mainland France."
    assert client.baseline(slug, "2.0.0")["publishable"] is False
    manifest = client.download_version(slug, "2.0.0", tmp_path / "pulled")
    assert _files(tmp_path / "pulled") == _files(mlflow_model_dir) and len(manifest) == len(_files(mlflow_model_dir))
    with pytest.raises(ApiError) as refused:
        BoasClient(deployment.base_url, "boas_wrong").whoami()
    assert (refused.value.status, refused.value.code) == (401, "unauthenticated")
    with pytest.raises(ClientError, match="plain HTTP"):
        BoasClient("http://boas.example.org", deployment.token)


def test_an_unreachable_server_is_one_line_and_no_directory(tmp_path: Path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOAS_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    result = subprocess.run(
        [str(BOAS), "pull", "algo@1.0.0", "--server", f"http://127.0.0.1:{port}"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HTTP_TIMEOUT,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert _errors(result) == result.stderr.splitlines() and len(_errors(result)) == 1
    assert _errors(result)[0].startswith(f"error: cannot reach http://127.0.0.1:{port}: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
