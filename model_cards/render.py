"""Author Markdown made safe to show, on pages and in exports.

Card prose is written by authors and read by the public, so it is rendered with raw HTML disabled
(CommonMark escapes it) and then cleaned by nh3 against an allowlist: no scripts, event handlers, SVG,
frames, styles, images, or javascript:/data: URLs, and every link gets ``rel="noopener noreferrer nofollow"``.

Exports that stay Markdown (card.md) cannot count on their reader to do the same: the Hub, a forge or
an editor may render raw HTML. ``markdown_without_html`` returns Markdown that shows the same prose but
holds no HTML and no link outside http, https and mailto; the result is checked by parsing it as a
permissive reader would, and anything that still parses as HTML or a bad link is escaped wholesale.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "sup", "sub",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(["table", "strikethrough"])


def render_markdown(text: str | None) -> str:
    """Author Markdown as sanitised HTML (CommonMark + tables + strikethrough, raw HTML shown as text)."""
    if not text:
        return ""
    html = _parser().render(str(text))
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        filter_style_properties={"text-align"},  # table column alignment, nothing else
    )


class _AnyLinkMarkdownIt(MarkdownIt):
    """A parser that accepts every link scheme, as a lenient reader of an exported README does."""

    def validateLink(self, url: str) -> bool:
        return True


@lru_cache(maxsize=1)
def _permissive_parser() -> MarkdownIt:
    """How a lenient reader of an exported README sees it: raw HTML on, every link scheme accepted."""
    return _AnyLinkMarkdownIt("commonmark", {"html": True, "linkify": False}).enable(["table", "strikethrough"])


_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]{0,31}):", re.IGNORECASE)
_INLINE_DEST = re.compile(r"(\]\(\s*)(<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)")
_REFERENCE_DEST = re.compile(r"^( {0,3}\[[^\]\n]+\]:\s*)(\S+)", re.MULTILINE)
_BACKTICKS = re.compile(r"`+")
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")  # what opens a tag, comment, declaration or autolink


def _allowed_link(destination: str) -> bool:
    """Whether a link destination, decoded as a Markdown reader decodes it, keeps to the allowed schemes."""
    decoded = re.sub(r"[\s\x00-\x1f\\]", "", html.unescape(destination.strip("<>")))
    match = _SCHEME.match(decoded)
    return match is None or match.group(1).lower() in URL_SCHEMES


def _unsafe(tokens: list[Any]) -> bool:
    for token in tokens:
        if token.type in ("html_block", "html_inline"):
            return True
        if token.type in ("link_open", "image") and not _allowed_link(str(token.attrGet("href") or token.attrGet("src") or "")):
            return True
        if token.children and _unsafe(token.children):
            return True
    return False


def _escape_line(line: str) -> str:
    """``<`` as ``&lt;`` where it could open HTML, outside the line's code spans (shown verbatim)."""
    out, pos, runs = [], 0, list(_BACKTICKS.finditer(line))
    i = 0
    while i < len(runs):
        opening = runs[i]
        closing = next((r for r in runs[i + 1:] if len(r.group()) == len(opening.group())), None)
        if closing is None:
            i += 1
            continue
        out.append(_TAG_START.sub("&lt;", line[pos:opening.start()]))
        out.append(line[opening.start():closing.end()])
        pos = closing.end()
        i = runs.index(closing) + 1
    out.append(_TAG_START.sub("&lt;", line[pos:]))
    return "".join(out)


def _neutralise_links(line: str) -> str:
    line = _INLINE_DEST.sub(lambda m: m.group(0) if _allowed_link(m.group(2)) else f"{m.group(1)}#", line)
    return _REFERENCE_DEST.sub(lambda m: m.group(0) if _allowed_link(m.group(2)) else f"{m.group(1)}#", line)


def markdown_without_html(text: str | None) -> str:
    """Author Markdown kept as Markdown, with no raw HTML and no javascript:, data: or other unsafe link.

    Code blocks are left as written (HTML in them is shown, not run). Outside them a ``<`` that could
    open markup becomes ``&lt;``, so no tag, comment or autolink can form, and links with another scheme point to ``#``.
    If a permissive reader would still find HTML or a bad link (block structure can shift once text
    is escaped), every ``<`` and ``[`` is escaped, code included: uglier, never unsafe.
    """
    if not text:
        return ""
    source = str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    lines = source.split("\n")
    code: set[int] = set()
    for token in _permissive_parser().parse(source):
        if token.type in ("fence", "code_block") and token.map:
            # A fence's own marker lines are not code, but they hold no text to escape either.
            code.update(range(token.map[0] + (token.type == "fence"), token.map[1] - (token.type == "fence")))
    escaped = "\n".join(line if number in code else _neutralise_links(_escape_line(line))
                         for number, line in enumerate(lines))
    if not _unsafe(_permissive_parser().parse(escaped)):
        return escaped
    wholesale = source.replace("<", "&lt;").replace("[", "&#91;")
    assert not _unsafe(_permissive_parser().parse(wholesale))  # no "<": no HTML; no "[": no link
    return wholesale
