"""The registry's main flow over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from tests.factories import create_algorithm, upload_version


def test_author_publishes_a_real_mlflow_model_and_downloads_a_verified_artifact(
    client, make_account, model_zip, mlflow_model_dir
):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    response = upload_version(client, author, algo["slug"], "1.0.0", model_zip)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["state"] == "draft"
    manifest = {f["path"]: f for f in body["manifest"]}
    original = {p.relative_to(mlflow_model_dir).as_posix(): p for p in mlflow_model_dir.rglob("*") if p.is_file()}
    assert set(manifest) == set(original)
    for path, file in original.items():
        assert manifest[path]["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert manifest[path]["size"] == file.stat().st_size
    assert "sklearn" in body["mlmodel"]["flavors"]
    assert body["archive"]["sha256"] == hashlib.sha256(model_zip).hexdigest()

    published = client.post(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/publish", headers=author)
    assert published.status_code == 200, published.get_json()
    assert published.get_json()["state"] == "published"
    assert len(published.get_json()["card_sha256"]) == 64

    download = client.get(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/artifacts/MLmodel")
    assert download.status_code == 200
    assert "attachment" in download.headers["Content-Disposition"]
    assert hashlib.sha256(download.data).hexdigest() == manifest["MLmodel"]["sha256"]

    public = client.get("/api/v1/algorithms").get_json()
    assert [a["slug"] for a in public["items"]] == [algo["slug"]]
    assert public["items"][0]["latest_version"] == "1.0.0"
