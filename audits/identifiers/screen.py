"""Putting the detectors together: a column, a table, a file's metadata, and the findings described."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audits.identifiers.dates import (
    _detect_dates,
    _detect_long_ids,
    _epoch_dates,
    _looks_like_birth_dates,
    _luhn_register,
    _parse_dates,
)
from audits.identifiers.detectors import (
    _EMAIL,
    _detect_address,
    _detect_iban,
    _detect_nir,
    _detect_phone,
    _detect_rib,
    _detect_text,
    _matches,
)
from audits.identifiers.names import NOT_A_PERSON, column_name_term
from audits.identifiers.persons import _NON_PERSON_WORDS, _WORD, _detect_person_names, _person_words
from audits.identifiers.sample import (
    _ARROW_STRING,
    _SEED,
    MAX_CELL_CHARS,
    SAMPLE_LIMIT,
    _prepare,
    _Sample,
    _sample_from,
)

if TYPE_CHECKING:
    import pandas as pd

# detector id -> what its values look like (used in messages; ids are stable, messages may change)
DETECTORS: dict[str, str] = {
    "column_name": "a name from the dictionary of identifying column names",
    "nir": "NIR (French social security numbers)",
    "date_of_birth": "exact dates of birth",
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "iban": "IBANs (checksum verified)",
    "rib": "French RIB bank details (key verified)",
    "postal_address": "postal addresses",
    "long_identifier": "long numeric identifiers, unique per row (IPP-like hospital numbers)",
    "person_name": "person names",
    "nested_values": "nested values (lists or maps) that cannot be screened",
    "oversized_values": f"values too long to be screened (over {MAX_CELL_CHARS} characters)",
}


@dataclass(frozen=True)
class Finding:
    """One detector that fired on one column; ``share`` is the share of screened distinct values matched."""

    column: str
    detector: str
    share: float | None  # None when the detector read the column's name, not its values
    detail: str = ""
    where: str = "column"  # or "index" (a pandas index kept in a Parquet file), "metadata" (a Parquet key), "text"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------------------------

def screen_column(name: str, series: pd.Series, *, row_key: bool = False,
                  limit: int = SAMPLE_LIMIT) -> list[Finding]:
    """Every detector that fires on one column (name first, then values); empty when the column passes."""
    findings: list[Finding] = []
    if not row_key and (term := column_name_term(name)) is not None:
        findings.append(Finding(name, "column_name", None, term))
    findings += [Finding(name, detector, None, "in the column name itself") for detector in _header_identifiers(name)]
    sample = _prepare(series, limit)
    if sample is None:
        return findings
    if sample == "nested":
        return [*findings, Finding(name, "nested_values", 1.0)]
    assert isinstance(sample, _Sample)
    if sample.oversized:
        findings.append(Finding(name, "oversized_values", round(max(sample.oversized, 1e-4), 4)))

    def fire(detector: str, share: float, detail: str = "") -> None:
        findings.append(Finding(name, detector, round(float(share), 4), detail))

    if sample.dates is not None:
        if _looks_like_birth_dates(*sample.dates):
            fire("date_of_birth", 1.0)
        return findings
    strong, weak = _detect_nir(sample)
    if strong.any() or weak.mean() >= 0.2:
        fire("nir", (strong | weak).mean())
    parsed, years, months, days = _parse_dates(sample.text)
    share, detail = _detect_dates(sample, parsed, years, months, days)
    if not share and (epoch := _epoch_dates(sample)) is not None and _looks_like_birth_dates(*epoch):
        share, detail = 1.0, "Unix times at midnight"
    if share:
        fire("date_of_birth", share, detail)
    email = _detect_text(_EMAIL, sample, _matches(sample, _EMAIL_HINT))
    if email.any():
        fire("email", email.mean())
    written, ten, bare = _detect_phone(sample)
    if written.any() or ten.mean() >= 0.2:
        fire("phone", (written | ten).mean())
    elif (bare.mean() >= 0.5 and sample.rows_per_value(bare) <= 2 and not _luhn_register(sample, bare)
          and not sample.contiguous()):
        fire("phone", bare.mean())
    iban = _detect_iban(sample)
    if iban.any():
        fire("iban", iban.mean())
    rib = _detect_rib(sample)
    if rib.any():
        fire("rib", rib.mean())
    street, town = _detect_address(sample)
    if street.any() or town.mean() >= 0.3:
        fire("postal_address", (street | town).mean())
    people = _detect_person_names(sample)
    hits, share = int(people.sum()), float(people.mean())
    if (hits >= 2 and share >= 0.2) or (hits >= 10 and share >= 0.1) or hits >= 50 or share >= 0.5:
        fire("person_name", people.mean())
    if sample.sampled and not sample.numeric:
        fired = {f.detector for f in findings}
        for detector, share in _rare_identifiers(sample.nonnull, limit):
            if detector not in fired:
                fire(detector, share, "in a few rows")
    long_ids = _detect_long_ids(sample, parsed)
    if (long_ids.mean() >= 0.3 and sample.rows_per_value(long_ids) <= 2 and not _luhn_register(sample, long_ids)
            and not sample.contiguous()):
        detail = "a declared row key must be row numbers or a non-numeric pseudonym" if row_key else ""
        fire("long_identifier", long_ids.mean(), detail)
    return findings


def _strong_hits(sample: _Sample) -> dict[str, np.ndarray]:
    """The detectors that one match is enough for, each as a mask over the sample."""
    strong, _ = _detect_nir(sample)
    written, _, _ = _detect_phone(sample)
    street, _ = _detect_address(sample)
    return {"nir": strong, "email": _detect_text(_EMAIL, sample, _matches(sample, _EMAIL_HINT)), "phone": written,
            "iban": _detect_iban(sample), "rib": _detect_rib(sample), "postal_address": street}


_EMAIL_HINT = r"@|%40|&#0*64;|&commat;|arobase|[\[({<]\s*at\s*[\])}>]|\sat\s.*\s(?:dot|point)\s"
# RE2 filter over a whole long column: what a strong identifier needs to contain, or a character
# used to disguise one (zero-width, full-width, non-Latin digits). False hits are only screened.
_B, _E = r"(?:^|[^0-9a-z])", r"(?:$|[^0-9a-z])"  # RE2 has no look-around: word edges, written out
_S = r"[ .\-/_]?"
_RARE_HINT = "|".join((
    r"@|%40|&#0*64;|arobase|\sat\s",  # e-mail
    rf"{_B}[1278]{_S}\d{{2}}{_S}(?:0[1-9]|1[0-2]|[2-9]\d){_S}(?:\d{{2}}|2[ab]){_S}\d{{3}}{_S}\d{{3}}(?:{_S}\d{{2}})?{_E}",
    rf"{_B}0[1-9](?:[ .\-/_]\d{{2}}){{4}}{_E}|\+\s?\d|{_B}00\s?33",  # phone, written
    r"\b[a-z]{2}\d{2}[ .\-][0-9a-z]{4}[ .\-][0-9a-z]{4}",  # IBAN in groups of four
    rf"{_B}(?:(?:fr|mc|it|sm)\d{{2}}[0-9a-z]{{23}}|(?:de|gb|ie)\d{{2}}[0-9a-z]{{18}}|be\d{{14}}|es\d{{22}}"
    rf"|(?:ch|li)\d{{2}}[0-9a-z]{{17}}|lu\d{{2}}[0-9a-z]{{16}}|nl\d{{2}}[a-z]{{4}}\d{{10}}|pt\d{{23}}){_E}",  # IBAN
    rf"\d{{5}}[ \-]\d{{5}}[ \-]|{_B}\d{{23}}{_E}",  # RIB
    r"\d{1,5},? (?:bis |ter )?(?:rue|av|avenue|bd|boulevard|allee|impasse|chemin|place|route|quai|cours|street|road"
    r"|lane|drive)\b|\b(?:rue|boulevard|impasse) [a-z]|cedex|lieu.dit",  # postal address
    r"[\x{200b}-\x{200f}\x{2060}-\x{2064}\x{feff}\x{00ad}\x{ff01}-\x{ff5e}\x{0660}-\x{0669}\x{06f0}-\x{06f9}]",
))


def _rare_identifiers(nonnull: pd.Series, limit: int) -> list[tuple[str, float]]:
    """Strong identifiers hidden in a few rows of a long, high-cardinality text column.

    The distinct values of such a column are screened from a row sample, where 50 NIRs among a
    million pseudonymous keys would likely not appear. One vectorised RE2 pass over the whole
    column keeps the values that could hold a strong identifier (or a disguising character); up to
    ``limit`` of them are screened by the detectors one match is enough for.
    """
    import pandas as pd

    arrow = isinstance(nonnull.dtype, pd.StringDtype) and nonnull.dtype.storage == "pyarrow"
    text = nonnull if arrow else nonnull.astype(str).astype(_ARROW_STRING)
    hinted = text[text.str.contains(_RARE_HINT, case=False, regex=True).to_numpy(dtype=bool, na_value=False)]
    if hinted.empty:
        return []
    distinct = pd.unique(hinted)
    if len(distinct) > limit:
        distinct = distinct[np.sort(np.random.default_rng(_SEED).choice(len(distinct), size=limit, replace=False))]
    sample = _sample_from(pd.Index(distinct, dtype=object), np.ones(len(distinct)), np.dtype(object))
    if not isinstance(sample, _Sample):
        return []
    return [(detector, float(mask.sum()) / len(nonnull)) for detector, mask in _strong_hits(sample).items()
            if mask.any()]


def _header_identifiers(name: str) -> list[str]:
    """Detectors that fire on a column's name itself: a header can be an e-mail, a NIR or a person."""
    sample = _sample_from([name], np.ones(1), np.dtype(object))
    if not isinstance(sample, _Sample):
        return []
    found = [detector for detector, mask in _strong_hits(sample).items() if mask.any()]
    # "Jean Dupont" as a header; "BEN_NIR_PSA" (Ben?) and "Age Band" are not people.
    first_names, _, _ = _person_words()
    words = sample.text[0].split(" ")
    if (2 <= len(words) <= 3 and all(_WORD.fullmatch(w) for w in words) and words[0].istitle()
            and words[0].casefold() in first_names
            and all(w[0].isupper() and w.casefold() not in _NON_PERSON_WORDS | NOT_A_PERSON for w in words[1:])):
        found.append("person_name")
    return found


def screen_table(frame: pd.DataFrame, *, row_key: str | None = None, exempt: Iterable[str] = (),
                 limit: int = SAMPLE_LIMIT) -> list[Finding]:
    """Every identifier finding in a table; ``row_key`` skips only the name check, ``exempt`` skips a column."""
    import pandas as pd

    skip = set(exempt)
    findings: list[Finding] = []
    for name in frame.columns:
        if name in skip:
            continue
        findings += screen_column(str(name), frame[name], row_key=name == row_key, limit=limit)
    if not isinstance(frame.index, pd.RangeIndex):  # a Parquet file can carry a pandas index: it is stored too
        for level, level_name in enumerate(frame.index.names):
            values = frame.index.get_level_values(level).to_series(index=None)
            found = screen_column(str(level_name if level_name is not None else level), values, limit=limit)
            findings += [replace(f, where="index") for f in found]
    return findings


def screen_file_metadata(path: Path, fmt: str, *, limit: int = SAMPLE_LIMIT) -> list[Finding]:
    """Identifiers in a Parquet file's key-value metadata, which is stored with the upload but is no column.

    pandas keeps ``DataFrame.attrs`` there, and any writer may add keys: every string and number in
    them (JSON leaves, printable runs of the binary Arrow schema) is screened like a column's values.
    """
    if fmt != "parquet":
        return []
    import base64
    import json

    import pandas as pd
    import pyarrow.parquet as pq

    findings: list[Finding] = []
    for raw_key, raw_value in (pq.read_metadata(path).metadata or {}).items():
        key = raw_key.decode("utf-8", errors="replace")
        text = raw_value.decode("utf-8", errors="replace")
        leaves: list[object] = [key]
        if key == "ARROW:schema":
            try:
                decoded = base64.b64decode(raw_value, validate=False)
            except ValueError:
                decoded = raw_value
            leaves += [run.decode("utf-8", errors="replace") for run in re.findall(rb"[\x20-\x7e\x80-\xff]{4,}", decoded)]
        else:
            try:
                leaves += _json_leaves(json.loads(text))
            except (ValueError, RecursionError):
                leaves.append(text)
        pieces = [piece for leaf in leaves[: limit * 4] for piece in _chunks(str(leaf))]
        found = screen_column(key, pd.Series(pieces, dtype=object), row_key=True, limit=limit)
        # Lengths and offsets are long numbers too; long strings were cut into pieces above.
        findings += [replace(f, where="metadata") for f in found if f.detector not in ("long_identifier",
                                                                                        "oversized_values")]
    return findings


def _chunks(text: str, size: int = MAX_CELL_CHARS // 2, overlap: int = 100) -> list[str]:
    """A long text in overlapping pieces short enough to be screened whole."""
    if len(text) <= size:
        return [text]
    return [text[start:start + size] for start in range(0, len(text) - overlap, size - overlap)]


def _json_leaves(node: object, depth: int = 0) -> list[object]:
    if depth > 50:
        return []
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in (k, *_json_leaves(v, depth + 1))]
    if isinstance(node, list):
        return [leaf for v in node for leaf in _json_leaves(v, depth + 1)]
    return [] if node is None or isinstance(node, bool) else [node]


def screen_text(text: str, *, limit: int = SAMPLE_LIMIT) -> list[str]:
    """The detectors that fire on a piece of free text (a report, an answer), in ``DETECTORS`` order; ids only.

    The text is screened as the values of a column, in overlapping pieces short enough to be screened
    whole (as a file's metadata is), so a single NIR, e-mail or "vu par le Dr Martin" is enough. No
    column name is read, and what a value looks like is never returned.
    """
    if not text.strip():
        return []
    import pandas as pd

    found = screen_column("text", pd.Series(_chunks(text), dtype=object), row_key=True, limit=limit)
    fired = {f.detector for f in found if f.detector != "oversized_values"}
    return [detector for detector in DETECTORS if detector in fired]


def describe(findings: Iterable[Finding]) -> dict[str, str]:
    """One message per column, naming the column and every detector that fired on it (never a value).

    Keyed by column name; an index level or a metadata key is keyed "index:<name>" or "metadata:<key>".
    """
    by_column: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        by_column.setdefault((finding.where, finding.column), []).append(finding)
    messages = {}
    for (where, column), found in by_column.items():
        reasons = []
        for f in found:
            what = DETECTORS[f.detector]
            if f.detector == "column_name":
                reasons.append(f"its name matches '{f.detail}' in the dictionary of identifying column names")
            elif f.share is None:
                reasons.append(f"its name itself looks like {what}")
            else:
                share = f"{f.share:.0%}" if f.share >= 0.01 else "a few"
                reasons.append(f"{share} of screened values look like {what}" + (f" ({f.detail})" if f.detail else ""))
        shown = column if len(column) <= 200 else column[:200] + "…"
        if where == "text":
            detectors = ", ".join(dict.fromkeys(f.detector for f in found))
            what = ", ".join(DETECTORS[f.detector] for f in found)
            messages[column] = (f"this text seems to contain a direct identifier [{detectors}]: {what}; write it "
                                "without names, numbers or addresses of patients")
            continue
        kind = {"column": "column", "index": "index", "metadata": "file metadata"}[where]
        detectors = ", ".join(dict.fromkeys(f.detector for f in found))
        key = column if where == "column" else f"{where}:{column}"
        messages[key] = f"{kind} '{shown}' is refused as a direct identifier [{detectors}]: {'; '.join(reasons)}"
    return messages


def find_identifier_columns(frame: pd.DataFrame, *, row_key: str | None = None,
                            exempt: Iterable[str] = ()) -> dict[str, str]:
    """Columns that look like direct identifiers, each with its message; such uploads are refused."""
    return describe(screen_table(frame, row_key=row_key, exempt=exempt))


def screen_message(text: str, *, field: str = "message") -> list[Finding]:
    """Direct identifiers written in a short message (to an evaluator, a reason): strong detectors only.

    Unlike ``screen_text`` (reports, which are held for a moderator when anything fires), a message
    found here is refused outright, so only detectors that one match is enough for are used.

    The text is screened whole, line by line and as runs of up to six words, by the detectors one match
    is enough for (NIR, e-mail, written phone number, IBAN, RIB, street address). Person names are not
    looked for: a message names people by their role as often as by their name, and a name alone is
    not health data. Findings are keyed by ``field`` and name their detector, never the value.
    """
    import pandas as pd

    pieces: list[str] = [text]
    for line in text.splitlines():
        words = line.split()
        pieces.append(line)
        pieces += [" ".join(words[i:i + n]) for n in range(1, 7) for i in range(0, max(len(words) - n + 1, 0))]
    distinct = pd.unique(pd.Series([p for p in pieces if p.strip()], dtype=object))
    if len(distinct) == 0:
        return []
    sample = _sample_from(pd.Index(distinct, dtype=object), np.ones(len(distinct)), np.dtype(object))
    if not isinstance(sample, _Sample):
        return []
    return [Finding(field, detector, None, "in the text", where="text")
            for detector, mask in _strong_hits(sample).items() if mask.any()]
