"""The HTML page staticweb shows for a directory of a web container (no IO).

Built in pieces so a long listing streams: `page_head`, then `rows` for each page of the
container listing (entries as the JSON listing gives them: `{"name", "bytes",
"last_modified", "content_type"}` or `{"subdir"}`), then `page_tail`. Every name, the title
and the stylesheet's address are HTML-escaped; links are relative (`./name`, `../`) and
percent-encoded, so the page works at any URL, domain-remapped ones included.
"""
from __future__ import annotations

from html import escape
from urllib.parse import quote

DEFAULT_STYLE = (
    "<style type=\"text/css\">\n"
    "  h1 {font-size: 1em; font-weight: bold;}\n"
    "  th {text-align: left; padding: 0px 1em 0px 1em;}\n"
    "  td {padding: 0px 1em 0px 1em;}\n"
    "  a {text-decoration: none;}\n"
    "</style>\n"
)


def css_href(css: str, prefix: str) -> str:
    """The stylesheet's address as seen from the directory `prefix` (relative to the root)."""
    if "://" in css or css.startswith("/"):
        return css
    return "../" * prefix.count("/") + quote(css.encode("utf-8", "surrogateescape"))


def page_head(title: str, css: str = "", prefix: str = "", link_query: str = "",
              parent: bool | None = None) -> bytes:
    """The page up to the first listed entry; `title` is the directory's path.

    `link_query` goes on every link (a temporary URL's parameters); `parent` says whether
    to link `../` (by default: below the root).
    """
    if parent is None:
        parent = bool(prefix)
    suffix = f"?{link_query}" if link_query else ""
    style = (f'<link rel="stylesheet" type="text/css" href="{escape(css_href(css, prefix))}" />\n'
             if css else DEFAULT_STYLE)
    parent_row = ('<tr id="parent" class="item">\n'
                  f' <td class="colname"><a href="../{escape(suffix)}">../</a></td>\n'
                  ' <td class="colsize">&nbsp;</td>\n <td class="coldate">&nbsp;</td>\n</tr>\n'
                  if parent else "")
    text = ('<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" '
            '"http://www.w3.org/TR/html4/loose.dtd">\n<html>\n <head>\n'
            f'  <title>Listing of {escape(title)}</title>\n{style} </head>\n <body>\n'
            f'  <h1 id="title">Listing of {escape(title)}</h1>\n'
            '  <table id="listing">\n   <tr id="heading">\n'
            '    <th class="colname">Name</th>\n    <th class="colsize">Size</th>\n'
            '    <th class="coldate">Date</th>\n   </tr>\n' + parent_row)
    return text.encode("utf-8", "surrogateescape")


def _link(relative: str, link_query: str) -> str:
    href = quote(relative.encode("utf-8", "surrogateescape"), safe="/").replace(".", "%2E")
    if link_query:
        href += f"?{link_query}"
    return f'<a href="./{escape(href)}">{escape(relative)}</a>'


def rows(entries: list[dict], prefix: str, link_query: str = "") -> bytes:
    """Table rows for listing entries under `prefix`; `link_query` goes on every link."""
    lines: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        subdir = entry.get("subdir")
        if isinstance(subdir, str):
            relative = subdir[len(prefix):] if subdir.startswith(prefix) else subdir
            if relative:
                link = _link(relative, link_query)
                lines.append(f'<tr class="item subdir">\n <td class="colname">{link}</td>\n'
                             ' <td class="colsize">&nbsp;</td>\n'
                             ' <td class="coldate">&nbsp;</td>\n</tr>\n')
            continue
        name = entry.get("name")
        if not isinstance(name, str):
            continue
        content_type = str(entry.get("content_type", "")).split(";", 1)[0].strip().lower()
        relative = name[len(prefix):] if name.startswith(prefix) else name
        if not relative:
            continue
        size = escape(str(entry.get("bytes", "")))
        date = escape(str(entry.get("last_modified", ""))[:19].replace("T", " "))
        lines.append(f'<tr class="item type-{escape(_css_class(content_type))}">\n'
                     f' <td class="colname">{_link(relative, link_query)}</td>\n'
                     f' <td class="colsize">{size}</td>\n <td class="coldate">{date}</td>\n'
                     '</tr>\n')
    return "".join(lines).encode("utf-8", "surrogateescape")


def _css_class(content_type: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in content_type)[:64]


def page_tail() -> bytes:
    return b"  </table>\n </body>\n</html>\n"
