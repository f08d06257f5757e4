"""The admins' page for registering a dataset in place: the API's service, refusals on the location field, FR and EN."""

from __future__ import annotations

import re
from html import unescape

import pytest

from audits.synth import generate_cohort
from tests.conftest import BACKENDS
from tests.pages.conftest import committed_app, csrf_of, sign_in
from tests.pages.content import make_user
from tests.pages.french import english_in, typography_faults

SHEET = {name: f"{name} de la cohorte" for name in ("motivation", "source", "population", "collection_period",
                                                   "preprocessing", "coverage", "access_conditions")}


@pytest.fixture(scope="module", params=BACKENDS)
def importing_site(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("import-page")
    root = tmp / "mnt" / "cohorts"
    root.mkdir(parents=True)
    generate_cohort(400, seed=51).to_csv(root / "cohort.csv", index=False)
    (root / "link.csv").symlink_to(root / "cohort.csv")
    app, close = committed_app(tmp, request.param, dataset_import_roots=(root,))
    with app.extensions["boas"].session_factory() as s:
        users = {role: make_user(s, role).email for role in ("admin", "evaluator")}
    yield app, users
    close()


def _client(site, role: str):
    app, users = site
    client = app.test_client()
    assert sign_in(client, users[role]).status_code == 303
    return client


def _page(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_an_admin_registers_a_file_in_place_from_the_form(importing_site):
    client = _client(importing_site, "admin")
    listing = client.get("/en/workspace/datasets").get_data(as_text=True)
    assert 'href="/en/workspace/datasets/import"' in listing
    form = client.get("/fr/workspace/datasets/import")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "Enregistrer un jeu de données déjà sur le serveur" in html and "file:cohorts/…" in html
    assert 'enctype="multipart/form-data"' not in html and "upload.js" not in html
    assert english_in(html) == [] and typography_faults(html) == []
    token = csrf_of(form)
    fields = {"csrf_token": token, "name": "Cohorte sur place", "label_column": "outcome", "row_key": "row_id",
              "sensitive_columns": "sex, region", "synthetic": "on", **SHEET}
    linked = client.post("/fr/workspace/datasets/import", data={**fields, "location": "file:cohorts/link.csv"})
    assert linked.status_code == 422
    page = linked.get_data(as_text=True)
    assert 'id="dataset-location-error"' in page and "Les liens symboliques ne sont pas suivis." in page
    assert 'href="#dataset-location"' in page  # the summary links to the field
    assert typography_faults(page) == []
    url = client.post("/en/workspace/datasets/import", data={**fields, "location": "https://example.org/c.csv"})
    assert url.status_code == 422 and "BOAS fetches no URL" in _page(url)
    done = client.post("/en/workspace/datasets/import", data={**fields, "location": "file:cohorts/cohort.csv"})
    assert done.status_code == 303, _page(done)[:2000]
    assert re.search(r"/workspace/audits/new\?dataset=\d+$", done.headers["Location"])
    followed = _page(client.get(done.headers["Location"]))
    assert "Dataset “Cohorte sur place” is registered (400 rows)." in followed
    assert "Cohorte sur place" in _page(client.get("/en/workspace/datasets"))


def test_evaluators_neither_see_nor_reach_the_form(importing_site):
    client = _client(importing_site, "evaluator")
    assert "/workspace/datasets/import" not in client.get("/en/workspace/datasets").get_data(as_text=True)
    assert client.get("/en/workspace/datasets/import").status_code == 403
    token = csrf_of(client.get("/en/workspace/datasets/new"))
    refused = client.post("/en/workspace/datasets/import", data={"csrf_token": token, "location":
                                                                 "file:cohorts/cohort.csv", "name": "x", **SHEET})
    assert refused.status_code == 403
