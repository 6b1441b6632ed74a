"""How a container's metadata turns it into a web site (staticweb's settings; no IO).

    X-Container-Meta-Web-Index: index.html         served for <container>/ and <dir>/
    X-Container-Meta-Web-Error: error.html         404error.html, 401error.html as error pages
    X-Container-Meta-Web-Listings: true            HTML listings where there is no index
    X-Container-Meta-Web-Listings-Css: style.css   a stylesheet for them (relative to the root)
    X-Container-Meta-Web-Directory-Type: ...       content type of directory markers
                                                   (application/directory)

`web_mode` says whether a request is served as a web site: anonymous ones are, a user's
only with `X-Web-Mode: true`. `redirect_location` is the URL with the trailing slash a
directory needs (relative links in its page depend on it).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from common.truth import is_true

META = "x-container-meta-web-"
DEFAULT_DIRECTORY_TYPE = "application/directory"



@dataclass(frozen=True)
class WebConfig:
    index: str = ""
    error: str = ""
    listings: bool = False
    listings_css: str = ""
    directory_type: str = DEFAULT_DIRECTORY_TYPE

    @property
    def serves_web(self) -> bool:
        """Whether directories are served at all (an index or listings)."""
        return bool(self.index) or self.listings


def header_text(value: str) -> str:
    """A header value as text: HTTP carries bytes, which WSGI hands over as latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def web_config(headers: dict[str, str]) -> WebConfig:
    """The web settings in a container's (lower-case) metadata headers."""
    def value(name: str) -> str:
        return header_text(headers.get(META + name) or "").strip()

    return WebConfig(
        index=value("index"),
        error=value("error"),
        listings=is_true(value("listings")),
        listings_css=value("listings-css"),
        directory_type=(value("directory-type") or DEFAULT_DIRECTORY_TYPE).lower(),
    )


def web_mode(has_identity: bool, web_mode_header: str | None) -> bool:
    return not has_identity or is_true(web_mode_header)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def redirect_location(scheme: str, host: str, client_path: str, query: str) -> str:
    """`scheme://host/path/[?query]` for a WSGI (latin-1) path without its trailing slash."""
    raw = client_path.encode("latin-1", "replace")
    location = f"{scheme}://{host}{quote(raw, safe='/')}/"
    return f"{location}?{query}" if query else location
