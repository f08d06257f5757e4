"""Absurd input is a 4xx with a reason, never a 500: huge numbers, deep JSON, huge ids."""

from __future__ import annotations

import io
import json

from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm

HUGE = "9" * 5000


def test_huge_pages_and_ids_are_client_errors(client, make_account):
    _, evaluator = make_account("evaluator")
    assert_error(client.get("/api/v1/algorithms", query_string={"page": "9" * 25}), 422)
    assert_error(client.get("/api/v1/audits/" + "9" * 25), 404)
    assert_error(client.get("/api/v1/datasets/" + "9" * 25, headers=evaluator), 404)
    assert client.get("/fr/algorithms", query_string={"page": "9" * 25}).status_code == 200
    body = assert_error(client.post("/api/v1/audits", headers=evaluator,
                                    json={"kind": "drift", "dataset": 10**30, "current_dataset": 1}), 422)
    assert "dataset" in body["errors"]


def test_json_with_an_enormous_number_is_a_422_naming_the_field(client, make_account):
    _, author = make_account("author")
    _, evaluator = make_account("evaluator")
    algo = create_algorithm(client, author)
    card = client.post(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author, content_type="multipart/form-data",
                       data={"version": "1.0.0", "card": '{"a": ' + HUGE + "}"})
    assert "card" in assert_error(card, 422)["errors"]
    metadata = client.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv"), "metadata": '{"n": ' + HUGE + "}"})
    assert "metadata" in assert_error(metadata, 422)["errors"]


def test_absurdly_nested_json_is_a_400(client, make_account):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    deep = "[" * 100_000 + "]" * 100_000
    response = client.patch(f"/api/v1/algorithms/{algo['slug']}/versions/1.0.0/card", headers=author,
                            data=deep, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"
    assert json.loads(response.data)["status"] == 400
