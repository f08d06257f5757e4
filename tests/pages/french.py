"""What a French page says, node by node, and the two checks every French page must pass.

English sentinels: words our own messages would only show untranslated. French typography: a
no-break space (U+00A0) or a narrow no-break space (U+202F) before : ; ? ! and », after «, and the
typographic apostrophe ’. Text inside an element marked ``lang="en"`` is English on purpose (a
framework's own title); text inside ``translate="no"`` is data (digests, file names, column names,
code) and is left alone.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

SENTINELS = ("the", "draft", "Published", "masked", "Too few", "interval", "audit log action codes", "Selon sex",
             "of the", "Within tolerance", "Outside tolerance", "Insufficient evidence", "No published", "Withdrawn",
             "Bias audit", "Reference group", "Sign in", "Finished", "Queued", "and", "with", "is", "are")
SENTINEL = re.compile(r"(?<![\w’'-])(?:" + "|".join(re.escape(s) for s in SENTINELS) + r")(?![\w’'-])")
NBSP = "\u00a0\u202f"
# A high punctuation mark that ends a word or a number and stands alone: "Raison :" or "Raison:".
BAD_HIGH = re.compile(rf"(?:(?<=[^\s{NBSP}])|(?<= ))[;:?!»](?=\s|$)|(?<=[^\s{NBSP}(]) [;:?!»]|«(?=[^{NBSP}])")
STRAIGHT_APOSTROPHE = re.compile(r"(?<=[A-Za-zÀ-ÿ])'(?=[A-Za-zÀ-ÿ])")
SKIPPED = {"script", "style", "code", "pre", "svg", "textarea", "option", "title"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class TextNodes(HTMLParser):
    """(text, marked) for each text node of the body; marked: inside lang="en" or translate="no"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.nodes: list[tuple[str, bool]] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        attributes = dict(attrs)
        marked = (attributes.get("lang") == "en" or attributes.get("translate") == "no" or tag in SKIPPED
                  or bool(self.stack and self.stack[-1][1]))
        self.stack.append((tag, marked))

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data):
        if data.strip() and self.stack and "body" in {t for t, _m in self.stack}:
            self.nodes.append((data, self.stack[-1][1]))


def french_text(html: str) -> list[str]:
    parser = TextNodes()
    parser.feed(html)
    return [" ".join(text.split(" ")) for text, marked in parser.nodes if not marked]


def english_in(html: str) -> list[str]:
    """Text nodes of a French page that hold an English sentinel."""
    return [t.strip() for t in french_text(html) if SENTINEL.search(t)]


def typography_faults(html: str) -> list[str]:
    """Text nodes of a French page with a high punctuation mark or a guillemet without its no-break space,
    or a straight apostrophe."""
    return [t.strip() for t in french_text(html) if BAD_HIGH.search(t) or STRAIGHT_APOSTROPHE.search(t)]
