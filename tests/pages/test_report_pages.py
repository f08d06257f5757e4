"""Incident reports in the browser, on SQLite and PostgreSQL: the form, moderation, answers in French and
English, held reports, the version's Atom feed, and who may do what."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from html import unescape

from tests.audits.test_identifiers import nir
from tests.pages.conftest import csrf_of, sign_in
from tests.pages.content import make_user
from tests.pages.french import english_in, typography_faults

ATOM = "{http://www.w3.org/2005/Atom}"


def _page(response) -> str:
    return unescape(response.get_data(as_text=True))


def _flashes(client, lang: str = "fr") -> str:
    return _page(client.get(f"/{lang}/workspace"))


def _file(client, slug: str, title: str, body: str, kind: str = "performance", version: str = "1.0.0"):
    form = client.get(f"/fr/algorithms/{slug}/{version}/reports/new")
    assert form.status_code == 200
    return client.post(f"/fr/algorithms/{slug}/{version}/reports/new", data={
        "csrf_token": csrf_of(form), "kind": kind, "title": title, "body": body})


def _report_id(response) -> int:
    match = re.search(r"#report-(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def _moderate(admin, report_id: int, decision: str, override: bool = False):
    queue = admin.get("/fr/admin/reports")
    assert queue.status_code == 200
    data = {"csrf_token": csrf_of(queue), "decision": decision}
    if override:
        data["override"] = "on"
    return admin.post(f"/fr/admin/reports/{report_id}/moderation", data=data)


def test_a_report_goes_through_moderation_to_public_display_and_its_answer_shows_in_french_and_english(
        signed_in, site_app, content):
    reader, admin, author = signed_in("evaluator"), signed_in("admin"), signed_in("author")
    public = site_app.test_client()
    slug = content.ml_slug
    title, body = "Sous-estimation après 85 ans", "Sur notre cohorte 2024, le risque prédit est trop bas après 85 ans."
    filed = _file(reader, slug, title, body)
    assert filed.status_code == 303
    report_id = _report_id(filed)
    assert "Un administrateur le lit avant qu’il soit rendu public" in _flashes(reader)

    card = f"/fr/algorithms/{slug}/1.0.0"
    before = _page(public.get(card))
    assert title not in before and 'id="reports"' in before
    assert title not in _page(author.get(card))  # the owner knows it exists, not its words
    assert "1 signalement attend la modération" in _page(author.get(card))
    assert title in _page(admin.get("/fr/admin/reports"))

    assert _moderate(admin, report_id, "approve").status_code == 303
    assert title in _page(public.get(card)) and body in _page(public.get(card))  # the cached page changed

    page = author.get(card)
    answered = author.post(f"/fr/reports/{report_id}/answers", data={
        "csrf_token": csrf_of(page), "body": "Corrigé dans la version 1.2.0, recalibrée sur 2022."})
    assert answered.status_code == 303 and answered.headers["Location"].endswith(f"#report-{report_id}")
    state = author.post(f"/fr/reports/{report_id}/state", data={"csrf_token": csrf_of(page), "state": "acknowledged"})
    assert state.status_code == 303

    french, english = _page(public.get(card)), _page(public.get(f"/en/algorithms/{slug}/1.0.0"))
    for html in (french, english):
        assert "Corrigé dans la version 1.2.0, recalibrée sur 2022." in html
    assert "Réponse de Claire Dubois" in french and "Pris en compte" in french
    assert "Answer from Claire Dubois" in english and "Acknowledged" in english
    section = "<body><h2 " + french.split('<h2 id="reports"')[1].split('<h2 id="history"')[0] + "</body>"
    assert not english_in(section) and not typography_faults(section), (english_in(section), typography_faults(section))

    feed = public.get(f"/en/algorithms/{slug}/1.0.0/reports.atom")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    entries = ET.fromstring(feed.data).findall(f"{ATOM}entry")  # noqa: S314 - our own server's output
    mine = [e for e in entries if e.findtext(f"{ATOM}title") == title]
    assert len(mine) == 1
    assert "Corrigé dans la version 1.2.0" in mine[0].findtext(f"{ATOM}content")
    terms = {c.get("term") for c in mine[0].findall(f"{ATOM}category")}
    assert {"performance", "acknowledged"} <= terms
    assert mine[0].findtext(f"{ATOM}id").endswith(f"#report-{report_id}")


def test_a_report_carrying_a_nir_is_held_back_with_a_warning(signed_in, site_app, content):
    reader, admin, author = signed_in("evaluator"), signed_in("admin"), signed_in("author")
    public = site_app.test_client()
    number = nir(11, sep=" ")
    filed = _file(reader, content.ml_slug, "Patient mal classé", f"Le patient {number} a été classé à faible risque.",
                  kind="safety")
    report_id = _report_id(filed)
    warning = _flashes(reader)
    assert "un numéro de sécurité sociale (NIR)" in warning and number not in warning

    card = f"/fr/algorithms/{content.ml_slug}/1.0.0"
    for client in (public, author):
        assert number not in _page(client.get(card)) and "Patient mal classé" not in _page(client.get(card))
    assert "un numéro de sécurité sociale (NIR)" in _page(author.get(card))  # what was found, not what was written
    assert number not in _page(public.get(f"/fr/algorithms/{content.ml_slug}/1.0.0/reports.atom"))

    # Approving a held report without the confirmation publishes nothing and says why.
    assert _moderate(admin, report_id, "approve").status_code == 303
    assert "cochez la case" in _page(admin.get("/fr/admin/reports"))
    assert number not in _page(public.get(card))
    assert _moderate(admin, report_id, "reject").status_code == 303
    assert number not in _page(public.get(card)) and "Patient mal classé" in _page(reader.get(card))


def test_report_forms_need_a_session_and_the_right_account(signed_in, site_app, content):
    public = site_app.test_client()
    form = public.get(f"/fr/algorithms/{content.ml_slug}/1.0.0/reports/new")
    assert form.status_code == 302 and "/fr/login" in form.headers["Location"]
    assert public.post("/fr/reports/1/answers", data={"body": "x"}).status_code == 400  # no CSRF token, no session

    reader, admin = signed_in("evaluator"), signed_in("admin")
    report_id = _report_id(_file(reader, content.ml_slug, "Documentation ambiguë", "Le seuil n’est pas documenté.",
                                 kind="documentation"))
    _moderate(admin, report_id, "approve")
    runtime = site_app.extensions["boas"]
    with runtime.session_factory() as s:
        other = make_user(s, "author", name="Autre Autrice")
        email = other.email
    stranger = site_app.test_client()
    assert sign_in(stranger, email).status_code == 303
    page = stranger.get(f"/fr/algorithms/{content.ml_slug}/1.0.0")
    refused = stranger.post(f"/fr/reports/{report_id}/answers", data={"csrf_token": csrf_of(page),
                                                                          "body": "Réponse d’une intruse"})
    assert refused.status_code == 403
    refused = stranger.post(f"/fr/reports/{report_id}/state", data={"csrf_token": csrf_of(page), "state": "resolved"})
    assert refused.status_code == 403
    assert stranger.get("/fr/admin/reports").status_code == 403
    assert "Réponse d’une intruse" not in _page(site_app.test_client().get(f"/fr/algorithms/{content.ml_slug}/1.0.0"))


def test_empty_or_oversized_reports_are_shown_next_to_their_field(signed_in, content):
    reader = signed_in("evaluator")
    refused = _file(reader, content.ml_slug, "", "x" * 10_001)
    assert refused.status_code == 422
    page = _page(refused)
    assert 'id="report-title-error"' in page and 'id="report-body-error"' in page


def test_an_uploaded_version_names_the_reports_it_fixes(signed_in, site_app, content, model_zip):
    reader, admin, author = signed_in("evaluator"), signed_in("admin"), signed_in("author")
    report_id = _report_id(_file(reader, content.ml_slug, "Seuil mal documenté", "Le seuil de décision manque.",
                                 kind="documentation"))
    _moderate(admin, report_id, "approve")
    url = f"/fr/workspace/algorithms/{content.ml_slug}/versions/new"

    def upload(version: str, fixes: str):
        return author.post(url, content_type="multipart/form-data", data={
            "csrf_token": csrf_of(author.get(url)), "version": version, "fixes_reports": fixes,
            "artifact": (io.BytesIO(model_zip), "model.zip")})

    refused = upload("3.0.0", "abc, 999999")
    assert refused.status_code == 422 and 'id="upload-fixes_reports-error"' in _page(refused)
    created = upload("3.0.0", f"{report_id}")
    assert created.status_code == 303, _page(created)[:2000]
    preview = _page(author.get(f"/fr/algorithms/{content.ml_slug}/3.0.0"))
    assert f"signalement n°\u00a0{report_id} sur la version 1.0.0" in preview
    report = _page(author.get(f"/fr/algorithms/{content.ml_slug}/1.0.0"))
    assert "Corrigé dans la version 3.0.0." in report  # its owner sees the draft that fixes it
    assert "Corrigé dans la version 3.0.0." not in _page(site_app.test_client().get(
        f"/fr/algorithms/{content.ml_slug}/1.0.0"))  # the public, once it is released
