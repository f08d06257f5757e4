"""Rate limits on failed authentication, and their audit rows written once per window.

Flask-Limiter counts, per client address, failed sign-ins (pages ``/fr/login``, ``/en/login``, and the
current-password check before a password change) and failed API bearer tokens, and per account
(the e-mail tried) failed sign-ins. Only failures are counted (``deduct_when``): a household or an
office behind one address is not locked out by its successful sign-ins. Past a limit the request is
answered 429 with ``Retry-After`` *before* the password is checked, so during a lockout even the right
password waits for the window to pass; that is what makes guessing useless.

Counters live in Redis when ``BOAS_RATELIMIT_STORAGE_URL`` (by default the Redis of ``BOAS_QUEUE_URL``)
is one, shared by every process; otherwise in each process's memory. If Redis stops answering, the
limits fall back to memory rather than failing the request.

The client address is the connection's peer, never ``X-Forwarded-For``, unless ``BOAS_TRUSTED_PROXIES``
says how many proxies stand in front (``boas.app`` then applies Werkzeug's ``ProxyFix`` for that many
hops). IPv6 clients are counted per /64, the block one subscriber usually holds.

The audit log must not grow with every attempt an anonymous visitor makes. The first failure of an
(action, account, client) in each window writes one ``login.failed`` or ``token.failed`` row; the
failures that follow in the window are counted in the limiter's storage, and the next row for that
account and client carries them (``count``: failures since the previous row, this one included;
``throttled``: attempts answered 429 meanwhile). A window is the shortest period of the limit
concerned (a minute by default).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from limits import parse_many

from boas.config import Settings
from boas.context import db_session
from boas.registry import accounts

log = logging.getLogger(__name__)

SIGNIN_ENDPOINTS = frozenset({"pages.login", "pages.change_password"})
PENDING_SECONDS = 24 * 3600  # how long unreported failures are remembered between two rows
_PREFIX = "boas-auth"


def client_address() -> str:
    """The client as rate limits see it: the peer address (after ProxyFix, if trusted), IPv6 per /64."""
    raw = request.remote_addr or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _account() -> str:
    """The account a sign-in tries, as the service looks it up."""
    return (request.form.get("email") or "").strip().lower()[:254] or "-"


def _is_signin() -> bool:
    return request.method == "POST" and request.endpoint == "pages.login"


def _is_credential_check() -> bool:
    """A request that checks a password or a bearer token, and so may fail authentication."""
    if request.method == "POST" and request.endpoint in SIGNIN_ENDPOINTS:
        return True
    return request.path.startswith("/api/") and "Authorization" in request.headers


def _failed(_response: Response) -> bool:
    return bool(g.get("auth_failed"))


@dataclass(frozen=True)
class Throttle:
    """The app's limiter and how long one audit-log window lasts for each kind of failure."""

    limiter: Limiter
    windows: dict[str, int]  # action -> seconds

    def record_failure(self, action: str, account: str | None) -> None:
        """A credential was refused: counted by the limits, and logged if it opens a window."""
        g.auth_failed = True
        client, window = client_address(), self.windows[action]
        key = _key(action, account, client)
        storage = self.limiter.storage
        try:
            count = storage.incr(f"{key}/failed", PENDING_SECONDS)
            opens = storage.incr(f"{key}/window", window) == 1
            throttled = storage.get(f"{key}/throttled") if opens else 0
            if opens:  # what this row accounts for leaves the pending counters
                storage.incr(f"{key}/failed", PENDING_SECONDS, amount=-count)
                if throttled:
                    storage.incr(f"{key}/throttled", PENDING_SECONDS, amount=-throttled)
        except Exception:  # the limiter's storage is down: log this failure on its own
            log.warning("rate-limit storage unavailable; logging the failure on its own", exc_info=True)
            count, opens, throttled = 1, True, 0
        if opens:
            accounts.record_failed_attempts(db_session(), action=action, account=account, client=client,
                                            count=count, throttled=throttled, window_seconds=window)

    def record_throttled(self, action: str, account: str | None) -> None:
        """An attempt answered 429: no row, only counted for the next one."""
        try:
            self.limiter.storage.incr(f"{_key(action, account, client_address())}/throttled", PENDING_SECONDS)
        except Exception:  # counting refusals must not turn a 429 into a 500
            log.warning("rate-limit storage unavailable", exc_info=True)


def _key(action: str, account: str | None, client: str) -> str:
    return f"{_PREFIX}/{action}/{account or '-'}/{client}"


def throttle() -> Throttle:
    return current_app.extensions["boas_throttle"]


def record_failure(action: str, account: str | None = None) -> None:
    """See ``Throttle.record_failure``."""
    throttle().record_failure(action, account)


def retry_after() -> int:
    """Seconds until the limit that refused this request lets it through again (at least 1)."""
    limiter = throttle().limiter
    current: RequestLimit | None = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.window.reset_time - time.time()))


def _on_breach(limit: RequestLimit) -> None:
    if request.method == "POST" and request.endpoint in SIGNIN_ENDPOINTS:
        throttle().record_throttled("login.failed", _account() if _is_signin() else None)
    else:
        throttle().record_throttled("token.failed", None)


def _shortest_period(limit: str) -> int:
    return min(item.get_expiry() for item in parse_many(limit))


def init_app(app: Flask, settings: Settings) -> None:
    """Limits on failed credentials, and Retry-After on every 429."""
    limiter = Limiter(
        key_func=client_address,
        storage_uri=settings.ratelimit_storage_url,
        strategy="moving-window",
        headers_enabled=False,  # Retry-After only, below: remaining counts are nobody's business
        in_memory_fallback_enabled=True,
        key_prefix=_PREFIX,
        application_limits=[
            ApplicationLimit(limit_provider=settings.signin_account_limit, key_function=_account,
                             scope="signin-account", exempt_when=lambda: not _is_signin(), deduct_when=_failed,
                             on_breach=_on_breach),
            ApplicationLimit(limit_provider=settings.auth_client_limit, key_function=client_address,
                             scope="auth-client", exempt_when=lambda: not _is_credential_check(),
                             deduct_when=_failed, on_breach=_on_breach),
        ],
    )
    limiter.init_app(app)
    app.extensions["boas_throttle"] = Throttle(limiter, {
        "login.failed": _shortest_period(settings.signin_account_limit),
        "token.failed": _shortest_period(settings.auth_client_limit),
    })

    @app.after_request
    def _retry_after(response: Response) -> Response:
        if response.status_code == 429 and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(retry_after())
        return response
