"""Versions over HTTP: immutability, yanking, permissions and visibility, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.factories import create_algorithm, upload_version


def _publish(client, headers, slug, version):
    return client.post(f"/api/v1/algorithms/{slug}/versions/{version}/publish", headers=headers)


def _published(client, headers, model_zip, version="1.0.0", **algo):
    algo = create_algorithm(client, headers, **algo)
    assert upload_version(client, headers, algo["slug"], version, model_zip).status_code == 201
    assert _publish(client, headers, algo["slug"], version).status_code == 200
    return algo["slug"]


def assert_error(response, status: int, code: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["status"] == status
    if code:
        assert body["code"] == code
    return body


def test_publishing_twice_is_a_conflict(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert_error(_publish(client, author, slug, "1.0.0"), 409, "already_published")


def test_uploading_an_existing_version_is_a_conflict_even_after_yanking(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert_error(upload_version(client, author, slug, "1.0.0", model_zip), 409, "version_exists")
    yank = client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={"reason": "wrong cohort"},
                       headers=author)
    assert yank.status_code == 200 and yank.get_json()["state"] == "yanked"
    body = assert_error(upload_version(client, author, slug, "1.0.0", model_zip), 409, "version_exists")
    assert "version" in body["errors"]


def test_yank_keeps_the_reason_visible_and_is_reversible(client, make_account, model_zip):
    _, author = make_account("author")
    slug = _published(client, author, model_zip)
    assert_error(client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={}, headers=author), 422)
    client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={"reason": "label leak found"}, headers=author)
    public = client.get(f"/api/v1/algorithms/{slug}/versions/1.0.0").get_json()
    assert public["state"] == "yanked" and public["yank_reason"] == "label leak found"
    assert client.get("/api/v1/algorithms").get_json()["total"] == 0  # no published version left
    assert_error(client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={"reason": "again"},
                             headers=author), 409, "not_published")
    unyank = client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/unyank", headers=author)
    assert unyank.status_code == 200
    assert unyank.get_json()["state"] == "published" and unyank.get_json()["yank_reason"] is None
    assert_error(client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/unyank", headers=author), 409, "not_yanked")


def test_unauthenticated_writes_are_refused(client, make_account, model_zip):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    assert_error(client.post("/api/v1/algorithms", json={"slug": "x"}), 401, "unauthenticated")
    assert_error(upload_version(client, {}, algo["slug"], "1.0.0", model_zip), 401)
    assert_error(client.post("/api/v1/algorithms", json={}, headers={"Authorization": "Bearer boas_nope"}), 401)
    assert_error(client.post("/api/v1/algorithms", json={}, headers={"Authorization": "Basic abc"}), 401)


def test_another_author_cannot_touch_my_algorithm(client, make_account, model_zip):
    _, alice = make_account("author")
    _, bob = make_account("author")
    slug = _published(client, alice, model_zip)
    assert upload_version(client, alice, slug, "1.1.0", model_zip).status_code == 201
    assert_error(client.patch(f"/api/v1/algorithms/{slug}", json={"name": "mine now"}, headers=bob), 403, "forbidden")
    assert_error(upload_version(client, bob, slug, "9.0.0", model_zip), 403)
    assert_error(_publish(client, bob, slug, "1.1.0"), 403)
    assert_error(client.post(f"/api/v1/algorithms/{slug}/versions/1.0.0/yank", json={"reason": "sabotage"},
                             headers=bob), 403)
    versions = [v["version"] for v in client.get(f"/api/v1/algorithms/{slug}/versions", headers=alice).get_json()]
    assert versions == ["1.1.0", "1.0.0"]


def test_evaluators_cannot_register_algorithms(client, make_account):
    _, evaluator = make_account("evaluator")
    from tests.factories import algorithm_payload

    assert_error(client.post("/api/v1/algorithms", json=algorithm_payload(), headers=evaluator), 403)


def test_drafts_are_invisible_to_the_public_but_visible_to_owners(client, make_account, model_zip):
    _, author = make_account("author")
    _, stranger = make_account("author")
    algo = create_algorithm(client, author)
    upload_version(client, author, algo["slug"], "0.1.0", model_zip)
    assert_error(client.get(f"/api/v1/algorithms/{algo['slug']}"), 404)
    assert_error(client.get(f"/api/v1/algorithms/{algo['slug']}/versions/0.1.0", headers=stranger), 404)
    assert_error(client.get(f"/api/v1/algorithms/{algo['slug']}/versions/0.1.0/artifacts/MLmodel"), 404)
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions/0.1.0", headers=author).status_code == 200
    assert client.get("/api/v1/algorithms").get_json()["total"] == 0
    assert client.get("/api/v1/algorithms", headers=author).get_json()["total"] == 1


def test_owner_edits_algorithm_and_adds_a_co_owner(client, make_account, model_zip):
    alice, alice_h = make_account("author")
    bob, bob_h = make_account("author")
    slug = _published(client, alice_h, model_zip)
    response = client.patch(f"/api/v1/algorithms/{slug}", headers=alice_h,
                            json={"summary": "New summary", "owners": [alice.email, bob.email]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["summary"] == "New summary"
    assert {o["name"] for o in response.get_json()["owners"]} == {alice.name, bob.name}
    assert upload_version(client, bob_h, slug, "1.1.0", model_zip).status_code == 201
    body = assert_error(client.patch(f"/api/v1/algorithms/{slug}", headers=alice_h,
                                     json={"slug": "renamed", "owners": ["ghost@example.org"]}), 422)
    assert "slug" in body["errors"]


def test_validation_reports_every_field_error_at_once(client, make_account):
    _, author = make_account("author")
    body = assert_error(client.post("/api/v1/algorithms", headers=author, json={
        "slug": "Bad Slug", "name": "", "kind": "neural", "license": "WTFPL-ish", "objective": "fun",
        "code_repository_url": "ftp://example.org/x", "code_commit": "zzz", "unexpected": 1,
    }), 422, "validation_failed")
    assert {"slug", "name", "summary", "kind", "license", "objective", "code_repository_url", "code_commit",
            "unexpected"} <= set(body["errors"])


def test_version_form_errors_are_reported_together(client, make_account, model_zip):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    body = assert_error(upload_version(client, author, algo["slug"], "v1", model_zip, card="{not json"), 422)
    assert set(body["errors"]) >= {"version", "card"}
    body = assert_error(upload_version(client, author, algo["slug"], "1.0.0", model_zip, field="code",
                                       filename="code.zip"), 422)
    assert "code" in body["errors"]
    assert client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json() == []


def test_ml_model_version_without_model_cannot_be_published(client, make_account):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    assert upload_version(client, author, algo["slug"], "1.0.0").status_code == 201
    body = assert_error(_publish(client, author, algo["slug"], "1.0.0"), 422, "baseline_not_met")
    assert set(body["errors"]) == {"artifacts.archive_sha256"}  # the rest of the (example) card is complete


def test_rule_based_version_carries_a_code_archive(client, make_account):
    import io
    import zipfile

    _, author = make_account("author")
    algo = create_algorithm(client, author, kind="rule_based", language="sas",
                            code_repository_url="https://gitlab.example.org/snds/diabete",
                            code_commit="4f2a9c1d")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ciblage_diabete.sas", "data diab; set er_prs_f; where pha_atc_cla like 'A10%'; run;")
    response = upload_version(client, author, algo["slug"], "1.0.0", buf.getvalue(), field="code",
                              filename="code.zip")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["artifact_kind"] == "code_archive"
    assert [f["path"] for f in response.get_json()["manifest"]] == ["ciblage_diabete.sas"]
    assert _publish(client, author, algo["slug"], "1.0.0").status_code == 200
    assert client.get(f"/api/v1/algorithms/{algo['slug']}").get_json()["code_commit"] == "4f2a9c1d"


def test_versions_are_listed_by_semver_precedence(client, make_account, model_zip):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    for version in ["1.10.0", "1.2.0", "1.10.0-rc.1", "2.0.0-alpha", "1.9.9"]:
        assert upload_version(client, author, algo["slug"], version).status_code == 201
    listed = [v["version"] for v in client.get(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author).get_json()]
    assert listed == ["2.0.0-alpha", "1.10.0", "1.10.0-rc.1", "1.9.9", "1.2.0"]


def test_unknown_things_are_404_in_the_error_shape(client, make_account):
    _, author = make_account("author")
    assert_error(client.get("/api/v1/algorithms/nope"), 404, "not_found")
    assert_error(client.get("/api/v1/nothing-here"), 404)
    assert_error(upload_version(client, author, "nope", "1.0.0"), 404)
