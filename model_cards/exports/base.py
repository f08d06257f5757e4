"""What an export format is: a file name, a media type, a label and a function of the frozen document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Release:
    """What a released version is now, beside its frozen document.

    The snapshot is immutable, so it still says "published" after a yank: exchange formats that carry
    a status (FHIR's DocumentReference.status, CHAI's release stage) read it here. ``sha256`` is the
    digest recorded at publication over the snapshot's canonical JSON.
    """

    state: str
    sha256: str
    yanked_at: str | None = None
    yank_reason: str | None = None


@dataclass(frozen=True)
class Format:
    """One downloadable export; ``render(document, lang, release)`` returns the file's bytes.

    ``frozen_only``: the format describes a released version (a status, a digest), so a draft has none:
    its ``release`` is then None and the service refuses it instead of rendering a preview.
    ``citation``: the file is a citation of the version (BibTeX, CFF): the card page offers it beside the
    ready-to-copy citation rather than among the card's downloads.
    """

    name: str
    media_type: str
    label: str
    render: Callable[[dict[str, Any], str, Release | None], bytes]
    frozen_only: bool = False
    citation: bool = False
