"""The catalogue's query runs once per page: one count, one page of rows, one look-up of the audited ones."""

from __future__ import annotations

from sqlalchemy import event

from boas.registry import algorithms
from tests.factories import algorithm_payload


def test_listing_the_catalogue_counts_once(session, make_account):
    author, _ = make_account("author")
    for _ in range(3):
        algorithms.create_algorithm(session, author, algorithm_payload())
    statements: list[str] = []
    bind = session.connection()

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.lower())

    event.listen(bind, "before_cursor_execute", record)
    try:
        page = algorithms.list_algorithms(session, author, filters={}, q=None, page=1, per_page=2, mine=True)
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert page.total == 3 and len(page.items) == 2 and page.audited == frozenset()
    assert sum("count(*)" in s for s in statements) == 1, statements
    assert sum("limit" in s and "from algorithm" in s for s in statements) == 1, statements


def test_a_search_of_hundreds_of_words_reads_only_the_first_ten(session, make_account):
    author, _ = make_account("author")
    created = algorithms.create_algorithm(session, author, algorithm_payload(name="Diabetes case identification"))
    statements: list[str] = []
    bind = session.connection()

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement.lower())

    event.listen(bind, "before_cursor_execute", record)
    try:
        page = algorithms.list_algorithms(session, author, filters={}, q="diabetes " + "x " * 300, page=1,
                                          per_page=5, mine=True)
    finally:
        event.remove(bind, "before_cursor_execute", record)
    assert page.total == 0  # "x" is among the first ten words, and matches nothing
    assert max(s.count(" like ") for s in statements) == 4 * 10
    page = algorithms.list_algorithms(session, author, filters={}, q="diabetes identification", page=1, per_page=5,
                                      mine=True)
    assert [a.slug for a in page.items] == [created.slug]
