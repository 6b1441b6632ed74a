"""What keeps the browser side honest: the session cookie, the CSRF check, response headers.

- The cookie carries only the session id: `HttpOnly; SameSite=Strict; Path=/`, plus `Secure`
  when the dashboard is served over https. No token ever reaches the browser.
- Every state-changing request (anything but GET and HEAD) must carry the session's CSRF
  token in the `X-CSRF-Token` header (the page reads it from `GET /api/session`, which only
  same-origin script can read). A missing or wrong token is a 403.
- Every answer forbids framing and MIME sniffing; the page's own files get a strict content
  security policy (scripts and styles only from the dashboard itself, no inline script), and
  forwarded API answers a `sandbox` policy, so a stored object that claims to be HTML can
  never run as the dashboard.
No IO.
"""
from __future__ import annotations

import hmac
from http.cookies import CookieError, SimpleCookie

from common.http_errors import HTTPError

COOKIE_NAME = "brume_dashboard"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD"})

PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
               "connect-src 'self'; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")
API_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"
COMMON_HEADERS = (("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                  ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"))


def session_id(cookie_header: str | None) -> str | None:
    """The session id the browser sent, or None."""
    if not cookie_header:
        return None
    cookies = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(COOKIE_NAME)
    return morsel.value if morsel and morsel.value else None


def set_cookie(session_id: str, secure: bool) -> str:
    """The Set-Cookie value that gives the browser its session id."""
    flags = "; Secure" if secure else ""
    return f"{COOKIE_NAME}={session_id}; Path=/; HttpOnly; SameSite=Strict{flags}"


def clear_cookie(secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return (f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{flags}")


def check_csrf(method: str, expected: str | None, sent: str | None) -> None:
    """HTTPError 403 unless `method` is safe or `sent` is the session's CSRF token."""
    if method in SAFE_METHODS:
        return
    if not expected or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise HTTPError(403, "missing or wrong CSRF token")


def security_headers(page: bool) -> list[tuple[str, str]]:
    """The headers every answer gets; `page`: the dashboard's own files, else API answers."""
    policy = PAGE_POLICY if page else API_POLICY
    return [("Content-Security-Policy", policy), *COMMON_HEADERS]


def is_page(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


def with_security_headers(app):
    """WSGI middleware: `security_headers` on every answer, errors included (replacing any
    the app or a forwarded service set)."""

    def wrapped(environ, start_response):
        extra = security_headers(is_page(environ.get("PATH_INFO") or "/"))
        names = {name.lower() for name, _ in extra}

        def start(status, headers, exc_info=None):
            kept = [(n, v) for n, v in headers if n.lower() not in names]
            return start_response(status, kept + extra, exc_info)

        return app(environ, start)

    return wrapped
