"""French and English: complete catalogs, the language switch, the remembered choice, locale formatting."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

import boas

PAGES = Path(boas.__file__).parent / "pages"
# Texts rendered on pages but written by services (notifications) are extracted from here too.
SOURCES = (PAGES, Path(boas.__file__).parent / "registry")
CATALOG = Path(boas.__file__).parent / "translations" / "fr" / "LC_MESSAGES"
METHODS = [("**/templates/**.html", "jinja2"), ("**/templates/**.xml", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}


def _extracted() -> set:
    found = set()
    for source in SOURCES:
        for _filename, _line, message, _comments, _context in extract_from_dir(str(source), METHODS,
                                                                                keywords=KEYWORDS):
            found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_message_of_the_pages_has_a_french_translation():
    with open(CATALOG / "messages.po", "rb") as fh:
        po = read_po(fh, locale="fr")
    translated = {}
    for message in po:
        if message.id:
            key = message.id if isinstance(message.id, str) else tuple(message.id)
            translated[key] = message
    extracted = _extracted()
    assert len(extracted) > 300
    missing = sorted(str(m) for m in extracted if m not in translated)
    assert missing == [], f"run pybabel extract/update: {missing[:10]}"
    untranslated = sorted(str(k) for k, m in translated.items() if k in extracted and (
        not m.string or (isinstance(m.string, (tuple, list)) and not all(m.string)) or m.fuzzy))
    assert untranslated == []
    for key, message in translated.items():  # placeholders survive translation
        source = " ".join(key) if isinstance(key, tuple) else key
        target = " ".join(message.string) if isinstance(message.string, (tuple, list)) else message.string
        assert sorted(set(re.findall(r"%\(\w+\)s", source))) == sorted(set(re.findall(r"%\(\w+\)s", target))), key


def test_the_compiled_catalog_matches_the_sources():
    with open(CATALOG / "messages.po", "rb") as fh:
        po = {m.id if isinstance(m.id, str) else tuple(m.id): m.string for m in read_po(fh, locale="fr") if m.id}
    with open(CATALOG / "messages.mo", "rb") as fh:
        mo = {m.id if isinstance(m.id, str) else tuple(m.id): m.string for m in read_mo(fh) if m.id}
    assert {k: (tuple(v) if isinstance(v, list) else v) for k, v in mo.items()} == \
        {k: (tuple(v) if isinstance(v, list) else v) for k, v in po.items()}, "run pybabel compile"


def test_key_pages_read_in_both_languages(site_app, content):
    client = site_app.test_client()
    pairs = {
        "/{}/": ("Rechercher dans le catalogue", "Search the catalogue"),
        "/{}/algorithms": ("Catalogue des algorithmes", "Catalogue of algorithms"),
        f"/{{}}/algorithms/{content.ml_slug}": ("Responsables", "Who is responsible"),
        f"/{{}}/algorithms/{content.ml_slug}/1.2.0": ("Socle de qualité", "Quality baseline"),
        "/{}/login": ("Se connecter", "Sign in"),
    }
    for pattern, (french, english) in pairs.items():
        fr = unescape(client.get(pattern.format("fr")).get_data(as_text=True))
        en = unescape(client.get(pattern.format("en")).get_data(as_text=True))
        assert '<html lang="fr">' in fr and '<html lang="en">' in en
        assert french in fr and english not in fr, pattern
        assert english in en and french not in en, pattern
    card_fr = unescape(client.get(f"/fr/algorithms/{content.ml_slug}/1.2.0").get_data(as_text=True))
    assert "Usage prévu" in card_fr and "Données d’entraînement" in card_fr  # card sections in French too


def test_numbers_and_dates_follow_the_locale(site_app, content):
    from boas.pages.i18n import fdate, fnumber, fpercent

    expectations = {"fr": ("0,85", "1\u202f500", "14 mars 2025"), "en": ("0.85", "1,500", "Mar 14, 2025")}
    for lang, (decimal, thousands, day) in expectations.items():
        with site_app.test_request_context(f"/{lang}/"):
            site_app.preprocess_request()
            assert fnumber(0.85) == decimal and fnumber(1500) == thousands
            assert fdate("2025-03-14T15:30:00+00:00") == day
            assert fpercent(0.5).replace("\u202f", " ").replace("\xa0", " ") == ("50 %" if lang == "fr" else "50%")
    client = site_app.test_client()
    fr = unescape(client.get(f"/fr/algorithms/{content.rule_slug}/1.0.0").get_data(as_text=True))
    en = unescape(client.get(f"/en/algorithms/{content.rule_slug}/1.0.0").get_data(as_text=True))
    assert "Personnes dans le jeu de référence\u202f: 1\u202f500" in fr
    assert "People in the reference dataset: 1,500" in en
    assert re.search(r"Publiée le \d{1,2} \w+ 20\d\d", fr) and re.search(r"Published on \w+ \d{1,2}, 20\d\d", en)
    assert "Publiée Publiée" not in fr and "publiée le" not in fr  # the state is said once


def test_root_redirects_by_cookie_then_accept_language(site_app):
    client = site_app.test_client()
    assert client.get("/", headers={"Accept-Language": "en-US,en;q=0.8"}).headers["Location"].endswith("/en/")
    assert client.get("/", headers={"Accept-Language": "de-DE"}).headers["Location"].endswith("/fr/")
    client.get("/fr/algorithms")  # reading a French page remembers French
    assert client.get("/", headers={"Accept-Language": "en"}).headers["Location"].endswith("/fr/")
    assert "Vary" in client.get("/").headers


def test_the_language_switch_keeps_the_page_and_its_query(site_app, content):
    client = site_app.test_client()
    page = client.get("/fr/algorithms?q=diab%C3%A8te&objective=case_identification&page=1").get_data(as_text=True)
    switch = re.search(r'<a href="([^"]+)" hreflang="en" lang="en" class="lang-switch">', page).group(1)
    target = unescape(switch)
    assert target.startswith("/en/algorithms?") and "objective=case_identification" in target and "q=diab" in target
    followed = client.get(target)
    assert followed.status_code == 200 and "Catalogue of algorithms" in followed.get_data(as_text=True)
    assert client.get_cookie("boas_lang").value == "en"
    card = client.get(f"/en/algorithms/{content.ml_slug}/1.2.0").get_data(as_text=True)
    assert f'href="/fr/algorithms/{content.ml_slug}/1.2.0" hreflang="fr"' in card
    assert client.get("/de/algorithms").status_code == 404


def test_french_messages_follow_french_typography():
    """A no-break space before : ; ? ! and inside « », and ’ for apostrophes, in every French message."""
    from tests.pages.french import BAD_HIGH, STRAIGHT_APOSTROPHE

    with open(CATALOG / "messages.po", "rb") as fh:
        po = read_po(fh, locale="fr")
    faults = []
    for message in po:
        strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
        for text in strings:
            if message.id and text and (BAD_HIGH.search(text) or STRAIGHT_APOSTROPHE.search(text) or "“" in text):
                faults.append(text)
    assert faults == []


def test_every_audit_log_action_the_services_write_has_a_label():
    """The admin's audit log names actions in words; a new action code without a label fails here."""
    from boas.pages.i18n import AUDIT_ACTIONS, OBJECT_TYPES
    from boas.registry.accounts import FAILURE_ACTIONS
    from registry_db.models import JobStatus

    root = Path(boas.__file__).parents[1]
    written, objects = set(FAILURE_ACTIONS), set(FAILURE_ACTIONS.values())
    for package in ("boas", "audits", "model_cards", "registry_db"):
        for path in (root / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            written.update(re.findall(r'\baction="([a-z_.]+)"', text))
            objects.update(re.findall(r'\bobject_type="([a-z_]+)"', text))
            if 'action=f"audit.{job.status.value}"' in text:
                written.update(f"audit.{status.value}" for status in JobStatus)
    assert len(written) > 20 and "version.published" in written
    assert written - set(AUDIT_ACTIONS) == set()
    assert objects - set(OBJECT_TYPES) == set()
