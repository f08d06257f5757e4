"""Person names in values: first names and surnames from the lists in ``audits/data``, titles, "Firstname Lastname"."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from audits.identifiers.detectors import _matches
from audits.identifiers.names import contains_phrase, join_spelled_out, name_tokens
from audits.identifiers.sample import _Sample

if TYPE_CHECKING:
    pass

_DATA = Path(__file__).parent.parent / "data"

# --- person names ---------------------------------------------------------------------------------

_NON_PERSON_WORDS = frozenset({
    "hopital", "hospital", "clinique", "clinic", "centre", "center", "chu", "chr", "ch", "chi", "ehpad", "institut",
    "institute", "fondation", "foundation", "groupe", "group", "hospitalier", "universitaire", "university",
    "saint", "sainte", "st", "ste", "san", "santa", "maladie", "disease", "syndrome", "cancer", "diabete",
    "type", "insuffisance", "region", "departement", "commune", "ville", "rue", "avenue", "boulevard", "place",
    "service", "unite", "pole", "cabinet", "pharmacie", "laboratoire", "lab", "association", "societe",
    "company", "inc", "ltd", "sa", "sas", "sarl", "ecole", "school", "college", "lycee", "universite", "mont",
    "lac", "port", "pont", "bourg", "val", "ile", "cote", "pays", "test", "score", "echelle", "scale", "index",
    "classification", "stade", "stage", "grade", "signe", "sign", "loi", "law", "effet", "effect", "modele",
    "model", "methode", "method", "algorithme", "algorithm", "protocole", "protocol", "prix", "prize", "rapport",
    "report", "plan", "programme", "program", "unit", "ward",
})
_TITLE = re.compile(r"\b(?:Mme|Mlle|Madame|Mademoiselle|Monsieur|Mrs|Ms|Miss|Mr|Dr|Docteur|Pr|Professeur)\.?\s[A-Z]")
_WORD = re.compile(r"[A-Za-z]+")
_LOWER_UPPER = re.compile(r"(?<=[a-z])(?=[A-Z])")


@cache
def _person_words() -> tuple[frozenset[str], frozenset[str], dict[str, list[tuple[str, ...]]]]:
    """(first names, all single-word names, multi-word names by first word) from the bundled lists, folded."""
    def load(name: str) -> list[tuple[str, ...]]:
        lines = (_DATA / name).read_text(encoding="utf-8").splitlines()
        return [tuple(name_tokens(line)) for line in lines if line.strip() and not line.startswith("#")]

    first, last = load("first_names.txt"), load("surnames.txt")
    singles = {t[0] for t in first + last if len(t) == 1}
    phrases: dict[str, list[tuple[str, ...]]] = {}
    for t in first + last:
        if len(t) > 1:
            phrases.setdefault(t[0], []).append(t)
    return frozenset(t[0] for t in first if len(t) == 1), frozenset(singles), phrases


def _is_person_name(text: str) -> bool:
    first_names, names, phrases = _person_words()
    words = _WORD.findall(text)
    if len(words) <= 60 and sum(len(w) == 1 for w in words) >= 3:  # "J e a n  D u p o n t"
        text = " ".join(join_spelled_out(words))
    words = _WORD.findall(_LOWER_UPPER.sub(" ", text))  # "JeanDupont" is two words
    if not words:
        return False
    lowered = [w.casefold() for w in words]
    if len(words) <= 4:
        if any(w in _NON_PERSON_WORDS for w in lowered):
            return False
        return any(w in names or (w in phrases and any(contains_phrase(lowered, p) for p in phrases[w])) for w in lowered)
    if _TITLE.search(text):  # free text naming someone: "vu par le Dr Martin", "Mme Durand"
        return True
    for i in range(len(words) - 1):  # "... avec Jean Dupont ..."
        one, two = words[i], words[i + 1]
        if (lowered[i] in first_names and one[0].isupper() and two[0].isupper() and len(two) > 1
                and lowered[i + 1] not in _NON_PERSON_WORDS and (i == 0 or lowered[i - 1] not in _NON_PERSON_WORDS)):
            return True
    return False


def _detect_person_names(s: _Sample) -> np.ndarray:
    """Person names: values of one to four words, one of them a common first or family name (no place,
    hospital or disease word), or free text naming someone after a title or by first and last name."""
    found = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(_matches(s, _names_hint())):
        found[i] = not s.text[i].isdigit() and _is_person_name(s.text[i])
    return found


@cache
def _names_hint() -> str:
    """RE2 filter: a value holds a known name somewhere, a title, or letters spelled out one by one."""
    _, names, phrases = _person_words()
    words = sorted(names | set(phrases), key=len, reverse=True)
    return r"(?:" + "|".join(words) + r")|\b(?:mme|mlle|madame|monsieur|mrs|ms|miss|mr|dr|pr)\b|(?:\b[a-z]\W+){3}"
