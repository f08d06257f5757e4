"""Public pages answered from memory, in front of Flask, while nothing they show has changed.

Home, catalogue, algorithm and card pages, feeds and the sitemap are read far more often than the
registry changes, and the same for every anonymous reader. Rendering them costs tens of milliseconds,
and even deciding that a cached card is still current took four queries and Flask's whole request
cycle. Here a WSGI layer keeps each page as the public saw it, keyed by the *change generation*: a
counter that database triggers bump in the same transaction as any write a public page can show
(``registry_db.store.generation``). One indexed read of that counter per request is then enough to
serve a page that is exactly what Flask would render, from any process or machine sharing the
database: a new audit, a yank or a renamed evaluator moves the counter, and the next request renders
afresh. What changes with time alone moves no counter: the registry's day (by its clock, which tests
advance) is part of the key, for review dates, and a kept page also expires after ``MAX_KEEP`` seconds,
so a scheduled re-audit's grace period lapsing mid-day is on the pages within a minute, as a browser's
own cache would show it anyway.

Only anonymous GET and HEAD requests (no session cookie, no Authorization header) are looked up, and
a response is kept only when the view said it is the public page (``mark_public``), it is a 200, and
it sets no cookie but the *echoed* ones: a cookie whose value follows from the URL alone (the
language of the page read, ``boas.pages.i18n.COOKIE``) is kept aside and set again on replay for a
reader who does not carry it already. Pages without their own validators get a strong ETag of their bytes, and every
kept page answers ``If-None-Match`` with a 304 and no body. If the counter cannot be read, the
request simply goes to Flask.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

log = logging.getLogger(__name__)

MARK = "boas.public_page"  # set in the WSGI environ by a view that rendered the public page
MAX_BYTES = 64 * 1024 * 1024  # pages kept per process
MAX_KEEP = 60.0  # seconds a kept page is replayed before it is rendered again, whatever the counter says
DEFAULT_CACHE_CONTROL = "public, no-cache"  # lists change with every publication: revalidate, cheaply
_DROPPED = {"set-cookie", "date", "content-length"}


@dataclass(frozen=True)
class Page:
    """A public response as it left Flask, ready to be replayed."""

    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    etag: str  # quoted
    last_modified: str | None
    echoed: tuple[tuple[str, str, str], ...] = ()  # (cookie name, value, Set-Cookie header) set on replay
    kept_at: float = 0.0  # time.monotonic() when it was kept


class PublicPageFront:
    """WSGI middleware serving kept public pages; see the module docstring."""

    def __init__(self, app: Callable[..., Iterable[bytes]], read_generation: Callable[[], int], *,
                 session_cookie: str = "session", echoed_cookies: tuple[str, ...] = (), prefixes: tuple[str, ...] = ("/fr/", "/en/", "/sitemap.xml"),
                 max_bytes: int = MAX_BYTES, max_keep: float = MAX_KEEP,
                 day: Callable[[], Any] = lambda: time.gmtime()[:3]):
        self.app = app
        self.read_generation = read_generation
        self.session_cookie = session_cookie
        self.echoed_cookies = echoed_cookies
        self.prefixes = prefixes
        self.max_bytes = max_bytes
        self.max_keep = max_keep
        self.day = day
        self._pages: OrderedDict[tuple[Any, ...], Page] = OrderedDict()
        self._bytes = 0
        self._generation: int | None = None
        self._lock = threading.Lock()
        self.hits = 0  # read by tests and the benchmark
        self.misses = 0

    # -- the request path ------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._eligible(environ):
            return self.app(environ, start_response)
        try:
            generation = self.read_generation()
        except Exception:  # the database is away: Flask will say so, or serve what it can
            log.warning("change generation unreadable; serving without the page front", exc_info=True)
            return self.app(environ, start_response)
        key = (generation, self.day(), environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST", ""),
               environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
        page = self._get(key, generation)
        if page is not None:
            self.hits += 1
            return self._replay(page, environ, start_response)
        self.misses += 1
        return self._render(key, environ, start_response)

    def _eligible(self, environ: dict[str, Any]) -> bool:
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_AUTHORIZATION" in environ:
            return False
        if not environ.get("PATH_INFO", "").startswith(self.prefixes):
            return False
        cookies = environ.get("HTTP_COOKIE", "")
        return not cookies or not any(part.strip().startswith(self.session_cookie + "=") for part in cookies.split(";"))

    def _render(self, key: tuple[Any, ...], environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ[MARK] = False
        started: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            started.update(status=status, headers=headers, exc_info=exc_info)
            return lambda _data: None  # the legacy write() callable; Flask never uses it

        body_iter = self.app(environ, capture)
        headers: list[tuple[str, str]] = started["headers"]
        # A HEAD response has no body to keep: only a GET fills the cache (both read it).
        keep = (environ.get(MARK) is True and environ.get("REQUEST_METHOD") == "GET" and started["status"].startswith("200")
                and all(self._echoed(value) for name, value in headers if name.lower() == "set-cookie"))
        if not keep:
            if started["exc_info"] is not None:
                start_response(started["status"], headers, started["exc_info"])
            else:
                start_response(started["status"], headers)
            return body_iter
        try:
            body = b"".join(body_iter)
        finally:
            close = getattr(body_iter, "close", None)
            if close is not None:
                close()
        page = self._page(started["status"], headers, body)
        self._put(key, page)
        return self._replay(page, environ, start_response)

    # -- pages -----------------------------------------------------------------------------

    def _echoed(self, set_cookie: str) -> tuple[str, str, str] | None:
        name, _, rest = set_cookie.partition("=")
        return (name, rest.split(";", 1)[0], set_cookie) if name in self.echoed_cookies else None

    def _page(self, status: str, headers: list[tuple[str, str]], body: bytes) -> Page:
        present = {name.lower(): value for name, value in headers}
        echoed = tuple(e for name, value in headers if name.lower() == "set-cookie" if (e := self._echoed(value)))
        kept = [(name, value) for name, value in headers if name.lower() not in _DROPPED]
        etag = present.get("etag")
        if etag is None:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            kept.append(("ETag", etag))
        if "cache-control" not in present:
            kept.append(("Cache-Control", DEFAULT_CACHE_CONTROL))
        vary = present.get("vary")
        if vary is None:
            kept.append(("Vary", "Cookie"))
        elif "cookie" not in vary.lower():
            kept = [(n, f"{v}, Cookie" if n.lower() == "vary" else v) for n, v in kept]
        return Page(status=status, headers=tuple(kept), body=body, etag=etag,
                    last_modified=present.get("last-modified"), echoed=echoed, kept_at=time.monotonic())

    def _replay(self, page: Page, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        cookies = [("Set-Cookie", header) for name, value, header in page.echoed
                   if f"{name}={value}" not in _cookie_pairs(environ)]
        if self._not_modified(page, environ):
            headers = [(n, v) for n, v in page.headers if n.lower() not in ("content-type", "content-encoding")]
            start_response("304 NOT MODIFIED", [*headers, *cookies])
            return [b""]
        start_response(page.status, [*page.headers, *cookies, ("Content-Length", str(len(page.body)))])
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [page.body]

    @staticmethod
    def _not_modified(page: Page, environ: dict[str, Any]) -> bool:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return "*" in tags or page.etag in tags
        since, modified = environ.get("HTTP_IF_MODIFIED_SINCE"), page.last_modified
        if since and modified:
            try:
                return parsedate_to_datetime(modified) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    # -- the store -------------------------------------------------------------------------

    def _get(self, key: tuple[Any, ...], generation: int) -> Page | None:
        with self._lock:
            if generation != self._generation:  # pages of other generations are never asked for again
                self._generation = generation
                self._pages.clear()
                self._bytes = 0
                return None
            page = self._pages.get(key)
            if page is None:
                return None
            if time.monotonic() - page.kept_at > self.max_keep:
                return None  # rendered again, and kept anew
            self._pages.move_to_end(key)
            return page

    def _put(self, key: tuple[Any, ...], page: Page) -> None:
        size = len(page.body)
        if size > self.max_bytes // 8:
            return
        with self._lock:
            if key[0] != self._generation:  # the counter moved while this page rendered
                return
            old = self._pages.pop(key, None)
            self._bytes += size - (len(old.body) if old else 0)
            self._pages[key] = page
            while self._bytes > self.max_bytes and self._pages:
                _key, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


def _cookie_pairs(environ: dict[str, Any]) -> set[str]:
    return {part.strip() for part in environ.get("HTTP_COOKIE", "").split(";")}
