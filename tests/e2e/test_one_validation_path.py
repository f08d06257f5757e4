"""Bad input gets the same answer from the API, the admin pages and the CLI, and never a 500 or a DataError.

On both backends: a JSON number past Python's 4,300-digit limit in any JSON body, over-deep JSON, a file
field sent as text, and the values that used to reach PostgreSQL as a DataError (300-character names).
"""

from __future__ import annotations

import html
import io
import re
import uuid

import pytest
from babel.support import Translations
from sqlalchemy import func, select

from boas.pages.messages import Localiser
from boas.registry import accounts
from registry_db.models import User
from tests.conftest import BACKENDS
from tests.e2e.test_cli import _env, boas
from tests.e2e.test_versions_api import assert_error
from tests.factories import create_algorithm
from tests.pages.conftest import committed_app, csrf_of, sign_in
from tests.pages.content import PASSWORD

HUGE_NUMBER = "9" * 4301
FRENCH = Localiser(Translations.load("boas/translations", ["fr"]).gettext, "fr")


def _text(markup: str) -> str:
    """What a reader sees of a page or a message: tags dropped, entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def _json_body_operations(client) -> list[tuple[str, str]]:
    """Every (method, path template) whose documented request body is JSON."""
    spec = client.get("/api/v1/openapi.json").get_json()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method, op in item.items()
            if isinstance(op, dict) and "application/json" in op.get("requestBody", {}).get("content", {})]


def _fill(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    # Any other row id (a request, a schedule, a report's answer…): the body is refused before the row is read.
    return re.sub(r"\{[a-z_]+_id\}", "1", template)


def test_every_json_body_refuses_an_enormous_number_or_absurd_nesting_with_the_standard_shape(
        client, make_account, model_zip):
    admin, admin_h = make_account("admin")
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    values = {"slug": algo["slug"], "version": "1.0.0", "user_id": str(admin.id), "report_id": "1", "answer_id": "1"}
    operations = _json_body_operations(client)
    assert len(operations) >= 8, operations  # the walk covers the write API
    for method, template in operations:
        path = _fill(template, values)
        for body in ('{"name": ' + HUGE_NUMBER + "}", "[" * 100_000 + "]" * 100_000):
            response = client.open(path, method=method, data=body, content_type="application/json", headers=admin_h)
            assert response.status_code == 400, (method, template, response.status_code, response.get_json())
            assert_error(response, 400, "bad_request")


def test_a_file_field_sent_as_text_is_a_422_naming_the_field(client, make_account):
    _, author = make_account("author")
    _, evaluator = make_account("evaluator")
    ml = create_algorithm(client, author)
    rule = create_algorithm(client, author, kind="rule_based")
    for slug, field in ((ml["slug"], "model"), (rule["slug"], "code")):
        response = client.post(f"/api/v1/algorithms/{slug}/versions", headers=author,
                               content_type="multipart/form-data", data={"version": "1.0.0", field: "not a file"})
        assert "multipart file part" in assert_error(response, 422, "validation_failed")["errors"][field][0]
    for route in ("/api/v1/datasets", "/api/v1/predictions"):
        response = client.post(route, headers=evaluator, content_type="multipart/form-data",
                               data={"file": "a,b\n1,2\n", "metadata": "{}"})
        assert "file" in assert_error(response, 422, "validation_failed")["errors"]
    # and a real file still goes through to the service's own checks
    response = client.post("/api/v1/datasets", headers=evaluator, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(b"a,b\n1,2\n"), "t.csv"), "metadata": "{}"})
    assert "file" not in assert_error(response, 422)["errors"]


def test_a_version_number_too_long_for_its_column_is_a_422_not_a_database_error(client, make_account):
    _, author = make_account("author")
    algo = create_algorithm(client, author)
    too_long = "1.0.0-" + "a" * 100
    response = client.post(f"/api/v1/algorithms/{algo['slug']}/versions", headers=author,
                           content_type="multipart/form-data", data={"version": too_long})
    assert "version" in assert_error(response, 422)["errors"]


# -- the same answer from the API, the admin page and the CLI, on both backends ----------------------------

LONG = "x" * 300
USER_CASES = {
    "long name": ({"email": "long@example.org", "role": "author", "name": LONG}, "name"),
    "bad e-mail": ({"email": "not-an-email", "role": "author", "name": "N"}, "email"),
    "unknown role": ({"email": "role@example.org", "role": "superuser", "name": "N"}, "role"),
    # a valid address of 247 characters: user_account.email holds it, the audit log's reference (200) does not
    "e-mail too long for the audit log": ({"email": "a" * 60 + "@" + ("b" * 60 + ".") * 2 + "c" * 60 + ".org",
                                           "role": "author", "name": "N"}, "email"),
}
ORGANISATION_CASES = {
    "long name": ({"slug": "labo-long", "name": LONG, "kind": "hospital"}, "name"),
    "unknown kind": ({"slug": "labo-kind", "name": "Labo", "kind": "guild"}, "kind"),
    "bad slug": ({"slug": "Not A Slug", "name": "Labo", "kind": "hospital"}, "slug"),
    "blank name": ({"slug": "labo-blank", "name": "   ", "kind": "hospital"}, "name"),
}


@pytest.fixture(scope="module", params=BACKENDS)
def edges(request, tmp_path_factory):
    """(app, database url, admin browser client, admin bearer headers) on a fresh database of the backend."""
    tmp = tmp_path_factory.mktemp("parity")
    app, close = committed_app(tmp, request.param)
    email = f"admin-{uuid.uuid4().hex[:6]}@example.org"
    with app.extensions["boas"].session_factory() as s:
        accounts.create_user(s, None, email=email, role="admin", name="Ada", bootstrap=True, password=PASSWORD)
        secret = accounts.create_token(s, None, user_email=email, bootstrap=True).secret
    browser = app.test_client()
    assert sign_in(browser, email).status_code == 303
    yield app, browser, {"Authorization": f"Bearer {secret}"}, tmp
    close()


def _cli_env(app, tmp):
    return _env(tmp / "cli-data", app.extensions["boas"].settings.database_url)


def _user_count(app) -> int:
    with app.extensions["boas"].session_factory() as s:
        return s.execute(select(func.count()).select_from(User)).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("case", list(USER_CASES))
def test_user_creation_gets_the_same_answer_from_api_page_and_cli(edges, case):
    app, browser, admin_h, tmp = edges
    data, field = USER_CASES[case]
    before = _user_count(app)

    api = assert_error(app.test_client().post("/api/v1/users", json=data, headers=admin_h), 422, "validation_failed")
    assert list(api["errors"]) == [field], api
    messages = api["errors"][field]

    token = csrf_of(browser.get("/fr/admin/users"))
    page = browser.post("/fr/admin/users", data={**data, "organisation": "", "password": "", "csrf_token": token})
    assert page.status_code == 422
    shown = _text(page.get_data(as_text=True))
    # The French page says the service's own message, in French (the same template, read back by the pages).
    french = [_text(str(FRENCH(message))) for message in messages]
    assert all(message in shown and message not in messages for message in french), (french, case)

    cli = boas(_cli_env(app, tmp), "users", "create", "--email", data["email"], "--role", data["role"],
               "--name", data["name"])
    assert cli.returncode == 2, cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr
    assert f"--{field}: {' '.join(messages)}" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr and "DataError" not in cli.stderr
    assert _user_count(app) == before


@pytest.mark.slow
@pytest.mark.parametrize("case", list(ORGANISATION_CASES))
def test_organisation_creation_gets_the_same_answer_from_api_page_and_cli(edges, case):
    app, browser, admin_h, tmp = edges
    data, field = ORGANISATION_CASES[case]

    api = assert_error(app.test_client().post("/api/v1/organisations", json=data, headers=admin_h), 422)
    assert list(api["errors"]) == [field], api
    messages = api["errors"][field]

    token = csrf_of(browser.get("/en/admin/users"))
    page = browser.post("/en/admin/organisations", data={"slug": data["slug"], "org_name": data["name"],
                                                         "kind": data["kind"], "csrf_token": token})
    assert page.status_code == 422
    shown = _text(page.get_data(as_text=True))
    assert all(message in shown for message in messages), (messages, case)

    cli = boas(_cli_env(app, tmp), "organisations", "create", "--slug", data["slug"], "--name", data["name"],
               "--kind", data["kind"])
    assert cli.returncode == 2, cli.stderr
    assert len(cli.stderr.strip().splitlines()) == 1, cli.stderr
    assert f"--{field}: {' '.join(messages)}" in cli.stderr, cli.stderr
    with app.extensions["boas"].session_factory() as s:
        assert accounts.list_organisations(s) == []
