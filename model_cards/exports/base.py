"""What an export format is: a file name, a media type, a label and a function of the frozen document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Format:
    """One downloadable export; ``render(document, lang)`` returns the file's bytes."""

    name: str
    media_type: str
    label: str
    render: Callable[[dict[str, Any], str], bytes]
