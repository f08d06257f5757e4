"""The page front: public pages kept in memory while the change generation stands, and never longer."""

from __future__ import annotations

import io
import re
import uuid

from sqlalchemy import text, update

from boas.registry import accounts, algorithms, lifecycle, versions
from boas.registry.storage import Upload
from registry_db.models import Base, Job
from registry_db.store.generation import UNWATCHED_JOB_COLUMNS, UNWATCHED_TABLES, change_generation
from tests.pages.conftest import sign_in
from tests.pages.content import bias_audit, card_json, code_zip, make_user


def _front(app):
    return app.extensions["boas_front"]


def _generation(app) -> int:
    with app.extensions["boas"].session_factory() as s:
        return change_generation(s)


def _new_algorithm(s, author, slug: str, name: str) -> None:
    algorithms.create_algorithm(s, author, {"slug": slug, "name": name, "summary": "Front.", "kind": "rule_based",
                                            "license": "EUPL-1.2", "code_repository_url": "https://git.example.org/f",
                                            "code_commit": "abcdef1"})


def test_a_public_page_is_kept_and_replayed_with_validators(site_app, content):
    client, front = site_app.test_client(), _front(site_app)
    first = client.get("/fr/")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in first.headers["Vary"] and first.headers["ETag"]
    hits = front.hits
    again = site_app.test_client().get("/fr/")  # a new reader, without the language cookie
    assert front.hits == hits + 1
    assert again.get_data() == first.get_data() and again.headers["ETag"] == first.headers["ETag"]
    assert [c.split(";")[0] for c in again.headers.getlist("Set-Cookie")] == ["boas_lang=fr"]
    assert again.headers["Content-Security-Policy"]  # the security headers are added on the way out, as ever
    # a reader who already has the cookie is not sent it again
    assert client.get("/fr/").headers.getlist("Set-Cookie") == []
    revalidated = client.get("/fr/", headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.get_data() == b""
    head = client.head("/fr/algorithms?sort=recent")  # a HEAD first: nothing to keep, the GET after is whole
    assert head.status_code == 200 and head.get_data() == b""
    body = client.get("/fr/algorithms?sort=recent").get_data()
    assert len(body) > 1000 and client.get("/fr/algorithms?sort=recent").get_data() == body
    kept_head = client.head("/fr/algorithms?sort=recent")
    assert kept_head.get_data() == b"" and int(kept_head.headers["Content-Length"]) == len(body)


def test_each_catalogue_query_is_its_own_page_and_noise_is_not_kept(site_app, content):
    client, front = site_app.test_client(), _front(site_app)
    everything = client.get("/fr/algorithms").get_data(as_text=True)
    searched = client.get("/fr/algorithms?q=zzzz-nothing-matches").get_data(as_text=True)
    assert content.ml_slug in everything and content.ml_slug not in searched
    assert client.get("/fr/algorithms?q=zzzz-nothing-matches").get_data(as_text=True) == searched
    card = f"/fr/algorithms/{content.rule_slug}/1.0.0"
    client.get(card)
    misses = front.misses
    for noise in ("?x=1", "?x=2"):
        response = client.get(card + noise)
        assert response.status_code == 200 and "ETag" not in response.headers  # rendered, not kept
    assert "ETag" not in client.get(card + "?x=1").headers  # still not kept on a second reading
    for _ in range(2):  # refused queries are refused each time, never kept
        assert client.get("/fr/algorithms?%00=%ff").status_code == 400
    assert front.misses == misses + 5


def test_signed_in_readers_and_flashed_messages_never_meet_the_kept_page(site_app, content):
    anonymous = site_app.test_client().get("/fr/").get_data(as_text=True)
    client = site_app.test_client()
    assert sign_in(client, content.users["author"]).status_code == 303
    hits = _front(site_app).hits
    mine = client.get("/fr/")
    assert _front(site_app).hits == hits  # a session cookie goes straight to Flask
    assert mine.headers["Cache-Control"].startswith("private") and mine.get_data(as_text=True) != anonymous
    bearer = site_app.test_client().get("/fr/", headers={"Authorization": "Bearer whatever"})
    assert bearer.status_code == 200 and _front(site_app).hits == hits


def test_every_write_a_page_shows_is_on_the_next_page(site_app):
    runtime, client = site_app.extensions["boas"], site_app.test_client()
    suffix = uuid.uuid4().hex[:6]
    s = runtime.session_factory()
    author, evaluator, admin = make_user(s, "author"), make_user(s, "evaluator"), make_user(s, "admin")
    slug, name = f"front-{suffix}", f"Front {suffix}"
    client.get("/fr/algorithms")
    generation = _generation(site_app)
    _new_algorithm(s, author, slug, name)
    versions.create_version(s, author, runtime.storage, slug, version="1.0.0", card_json=card_json(),
                            code=Upload(io.BytesIO(code_zip()), "code.zip"))
    assert name not in client.get("/fr/algorithms").get_data(as_text=True)  # a draft is not public
    lifecycle.publish_version(s, author, runtime.policy, slug, "1.0.0")
    assert _generation(site_app) > generation
    assert name in client.get("/fr/algorithms").get_data(as_text=True)  # at once, not after some delay
    assert name in client.get("/en/").get_data(as_text=True)
    card = f"/fr/algorithms/{slug}/1.0.0"
    assert "badge-outcome-not_audited" in client.get(card).get_data(as_text=True)
    bias_audit(site_app, s, evaluator, slug, "1.0.0", seed=3)
    assert "badge-outcome-not_audited" not in client.get(card).get_data(as_text=True)
    accounts.update_user(s, admin, evaluator.id, name=f"Renommée {suffix}")
    assert f"Renommée {suffix}" in client.get(card).get_data(as_text=True)
    lifecycle.yank_version(s, author, slug, "1.0.0", "Erreur de test")
    assert name not in client.get("/fr/algorithms").get_data(as_text=True)
    s.close()


def test_an_audit_in_progress_does_not_move_the_generation_but_its_end_does(site_app, content):
    runtime = site_app.extensions["boas"]
    s = runtime.session_factory()
    evaluator = make_user(s, "evaluator")
    job_id = bias_audit(site_app, s, evaluator, content.rule_slug, "1.0.0", seed=21)[0]
    before = _generation(site_app)
    s.execute(update(Job).where(Job.id == job_id).values(progress=50, heartbeat_at=Job.created_at,
                                                          worker_host="elsewhere"))
    s.commit()
    assert _generation(site_app) == before
    s.execute(update(Job).where(Job.id == job_id).values(finished_at=Job.created_at))
    s.commit()
    assert _generation(site_app) == before + 1
    s.close()


def test_a_rolled_back_write_leaves_the_generation(site_app):
    runtime = site_app.extensions["boas"]
    s = runtime.session_factory()
    author = make_user(s, "author")
    before = _generation(site_app)
    s.execute(text("UPDATE user_account SET name = 'x' WHERE id = :id"), {"id": author.id})
    s.rollback()
    assert _generation(site_app) == before
    s.close()


def _watched(session, backend: str) -> dict[str, set[str] | None]:
    """Table -> the columns whose update moves the generation (None: every column), from the database."""
    if backend == "sqlite":
        rows = session.execute(text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger' "
                                    "AND name LIKE 'change_generation_%'")).all()
        found: dict[str, set[str] | None] = {}
        events: dict[str, set[str]] = {}
        for table, sql in rows:
            event = re.search(r"AFTER (INSERT|DELETE|UPDATE(?: OF ([\w, ]+?))?) ON", sql)
            assert event, sql
            events.setdefault(table, set()).add(event.group(1).split()[0])
            if event.group(1).startswith("UPDATE"):
                found[table] = {c.strip() for c in event.group(2).split(",")} if event.group(2) else None
        assert all(kinds == {"INSERT", "UPDATE", "DELETE"} for kinds in events.values()), events
        return found
    rows = session.execute(text(
        "SELECT c.relname, t.tgattr::text, t.tgdeferrable, t.tginitdeferred FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = 'change_generation'")).all()
    found = {}
    for table, attrs, deferrable, deferred in rows:
        assert deferrable and deferred, table  # bumped at commit, never holding the row mid-transaction
        if attrs.strip():
            numbers = [int(n) for n in attrs.split()]
            names = session.execute(text(
                "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum = ANY(:n)"),
                {"t": table, "n": numbers}).scalars()
            found[table] = set(names)
        else:
            found[table] = None
    return found


def test_every_table_moves_the_generation_unless_it_is_listed_as_unseen(session, backend):
    watched = _watched(session, backend)
    expected = {t.name for t in Base.metadata.sorted_tables} - set(UNWATCHED_TABLES)
    assert set(watched) == expected, (
        "every table of the models needs the change-generation triggers (see migration 0007g), or a reason in "
        "registry_db.store.generation.UNWATCHED_TABLES; a migration that recreates a table on SQLite drops them")
    job_columns = {c.name for c in Job.__table__.columns} - UNWATCHED_JOB_COLUMNS
    assert watched["job"] == job_columns
    assert all(columns is None for table, columns in watched.items() if table != "job")


def test_a_kept_page_is_rendered_again_after_its_time_even_if_nothing_was_written(site_app, content):
    """What changes with time alone (a review date passing) moves no counter: kept pages expire."""
    client, front = site_app.test_client(), _front(site_app)
    client.get("/en/feed.atom")
    hits, misses = front.hits, front.misses
    client.get("/en/feed.atom")
    assert (front.hits, front.misses) == (hits + 1, misses)
    keep, front.max_keep = front.max_keep, 0.0
    try:
        client.get("/en/feed.atom")
        assert (front.hits, front.misses) == (hits + 1, misses + 1)
    finally:
        front.max_keep = keep
