"""Screening uploaded tables for direct identifiers, by column name and by value, in French and English.

A reference dataset (and a predictions file) must be pseudonymised: no names, contact details,
national or hospital numbers, bank details, postal addresses or exact dates of birth. This
module decides, column by column, whether a table carries any. It is pure computation (no
database, no Flask) so the services, the CLI and the tests call the same code.

How a column is screened:
- **Its name** is matched against a French and English dictionary of identifying names once
  folded (``audits.identifier_names``: NFKC, invisible characters, look-alike letters, accents,
  camelCase); a name that is itself an e-mail, a NIR, a phone number or "Firstname Lastname"
  is refused too.
- **Its values** are sampled: every non-null *distinct* value when there are at most
  ``SAMPLE_LIMIT`` of them, else a seeded random sample of that many distinct values. Working on
  distinct values means filler values ("-", "inconnu", blanks) cannot dilute a few identifiers.
  A long, high-cardinality text column is sampled by rows instead (hashing a million distinct
  strings costs more than the rest), and one vectorised pass over the whole column then catches
  the few rows that could hold a strong identifier. Each value detector reports the share of
  screened distinct values it matched. Detectors with a checksum or an unambiguous shape (NIR
  with its key or its spacing, IBAN, RIB, e-mail, formatted phone number, street address) fire
  on a single match; the others need a meaningful share (``screen_column`` has the thresholds).
- **The declared row key** is exempt from the name dictionary only: a pseudonymous key is often
  called ``patient_id`` or ``ben_nir_psa``. Its values are screened like any other column, and
  an 8+ digit number that is not a contiguous row numbering is refused there too, because it
  cannot be told apart from a hospital identifier (IPP): use row numbers or a non-numeric
  pseudonym (hex digest, UUID).
- **What else a file stores**: a pandas index kept in a Parquet file, unused categories of a
  dictionary column, and the Parquet key-value metadata (``DataFrame.attrs`` lands there) are
  screened too, since the upload is stored as sent.

Known limits: identifiers split across columns, encoded (base64, reversed, hashed without a
secret), or spelled out in words are not recognised; a day-level date column is taken for dates
of birth only when it spans at least ten years, so the exact birth dates of a cohort of newborns
pass when the column's name does not give them away; exact Unix timestamps in seconds or
milliseconds are refused as long identifiers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audits.identifier_names import (
    NOT_A_PERSON,
    column_name_term,
    contains_phrase,
    fold,
    join_spelled_out,
    name_tokens,
)

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_LIMIT = 5000  # distinct values screened per column
_SEED = 20240601  # the sample of distinct values is reproducible
MAX_CELL_CHARS = 2000  # a longer cell is free text with no place in a reference table, and is refused
# The vectorised filters are written for RE2 (pyarrow compute), whatever pandas' default string dtype is.
_ARROW_STRING = "string[pyarrow]"
_CHAR_BUDGET = 500_000  # characters screened per column at most: bounds the time a worst-case column costs
_DATA = Path(__file__).with_name("data")

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
    where: str = "column"  # or "index" (a pandas index kept in a Parquet file), or "metadata" (a Parquet key)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# Values: preparing a sample
# ---------------------------------------------------------------------------------------------

@dataclass
class _Sample:
    """The distinct values of one column chosen for screening, in the forms the detectors need."""

    nonnull: Any  # the column without nulls (a pandas Series)
    raw: list  # the screened distinct values, as they are in the column
    weight: np.ndarray  # rows holding each screened value (in the whole column, or in the row sample)
    text: list[str]  # each folded to text: NFKC, invisible characters dropped, look-alikes mapped, spaces collapsed
    from_float: np.ndarray  # per value: an integral float (its trailing digits may have been rounded away)
    digits: np.ndarray  # per value: how many ASCII digits its text holds (a cheap filter for the detectors)
    series: Any = None  # the texts as a pandas string Series, for vectorised (RE2) filters
    numeric: bool = False
    sampled: bool = False  # distinct values came from a row sample (a long, high-cardinality column)
    oversized: float = 0.0  # share of screened values longer than MAX_CELL_CHARS (screened truncated)
    dates: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # for datetime columns: year, month, day

    def rows_per_value(self, matched: np.ndarray) -> float:
        """How many rows each matched value covers on average (1.0: unique per row)."""
        return float(self.weight[matched].sum() / max(int(matched.sum()), 1))

    def contiguous(self) -> bool:
        """Integers forming one gap-free range, as row numbers do (computed on demand: it reads the column)."""
        if not self.numeric:
            return False
        low, high = int(self.nonnull.min()), int(self.nonnull.max())
        return high - low + 1 == self.nonnull.nunique()


ROW_SAMPLE = 50_000  # rows read to estimate how varied a long column is


def _distinct_counts(nonnull: pd.Series) -> tuple[pd.Series, bool]:
    """Distinct values with their row counts, and whether they come from a row sample.

    The whole column's when values repeat (so a few identifiers among fillers are all seen), else
    those of a random row sample: hashing a million distinct strings costs more than the rest of
    the screening, and ``_rare_identifiers`` then looks for rare strong identifiers in the whole column.
    """
    if len(nonnull) <= ROW_SAMPLE:
        return nonnull.value_counts(sort=False, dropna=False), False
    positions = np.sort(np.random.default_rng(_SEED).choice(len(nonnull), size=ROW_SAMPLE, replace=False))
    counts = nonnull.iloc[positions].value_counts(sort=False, dropna=False)
    if len(counts) <= ROW_SAMPLE // 2:
        return nonnull.value_counts(sort=False, dropna=False), False
    return counts, True


def _prepare(series: pd.Series, limit: int) -> _Sample | str | None:
    """Pick the distinct values to screen; None when nothing can hide in the column, "nested" when it cannot be read."""
    import pandas as pd

    dtype = series.dtype
    counts, sampled = None, False
    if isinstance(dtype, pd.CategoricalDtype):
        # Every category counts, used or not: a Parquet dictionary can carry values no row uses.
        codes = series.cat.codes.to_numpy()
        weight = np.bincount(codes[codes >= 0], minlength=len(dtype.categories))
        counts = pd.Series(weight, index=dtype.categories)
        nonnull = series.dropna().astype(dtype.categories.dtype)
        dtype = dtype.categories.dtype
    else:
        nonnull = series.dropna()
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        return None
    if pd.api.types.is_float_dtype(dtype):  # scores and costs with decimals carry no identifier digits
        nonnull = nonnull[_integral(nonnull.to_numpy(dtype="float64", na_value=np.nan))]
        if counts is not None:
            counts = counts[_integral(counts.index.to_numpy(dtype="float64"))]
    if nonnull.empty and (counts is None or counts.empty):
        return None
    if counts is None:
        try:
            counts, sampled = _distinct_counts(nonnull)
        except TypeError:  # unhashable cells: lists, arrays, maps (nested Parquet types)
            return "nested"
    distinct, weight = counts.index, counts.to_numpy()
    if len(distinct) > limit:
        picked = np.sort(np.random.default_rng(_SEED).choice(len(distinct), size=limit, replace=False))
        distinct, weight = distinct[picked], weight[picked]
        sampled = True
    sample = _sample_from(distinct, weight, dtype)
    if isinstance(sample, _Sample):
        sample.nonnull, sample.sampled = nonnull, sampled
        if isinstance(dtype, pd.StringDtype) and not nonnull.empty:  # every cell, not just the sampled ones
            sample.oversized = max(sample.oversized, float((nonnull.str.len() > MAX_CELL_CHARS).mean()))
    return sample


def _integral(values: np.ndarray) -> np.ndarray:
    keep = np.isfinite(values) & (np.abs(values) < 1e18)
    keep[keep] = np.mod(values[keep], 1) == 0
    return keep


def _sample_from(distinct: Any, weight: np.ndarray, dtype: Any) -> _Sample | str:
    """The forms the detectors need, for some distinct values of one dtype; "nested" if one is a list or map."""
    import pandas as pd

    n = len(distinct)
    sample = _Sample(nonnull=None, raw=list(distinct), weight=np.asarray(weight), text=[],
                     from_float=np.zeros(n, dtype=bool), digits=np.zeros(n, dtype=np.int64))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        index = pd.DatetimeIndex(distinct)
        sample.dates = (index.year.to_numpy(), index.month.to_numpy(), index.day.to_numpy())
        return sample
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        is_float = pd.api.types.is_float_dtype(dtype)
        kind = "float64" if is_float else "uint64" if pd.api.types.is_unsigned_integer_dtype(dtype) else "int64"
        sample.raw = np.asarray(distinct, dtype=kind).tolist()
        sample.text = [str(int(v)) for v in sample.raw]
        sample.from_float = np.full(n, is_float)
        sample.numeric = True
    else:
        lengths = np.array([len(v) if isinstance(v, str | bytes) else 0 for v in sample.raw], dtype=np.int64)
        sample.oversized = float((lengths > MAX_CELL_CHARS).mean()) if n else 0.0
        if np.minimum(lengths, MAX_CELL_CHARS).sum() > _CHAR_BUDGET:  # a random subset within the budget
            order = np.random.default_rng(_SEED).permutation(n)
            kept = np.sort(order[np.cumsum(np.minimum(lengths, MAX_CELL_CHARS)[order]) <= _CHAR_BUDGET])
            sample.raw, sample.weight, n = [sample.raw[i] for i in kept], sample.weight[kept], len(kept)
        texts, floats = [], []
        for value in sample.raw:
            text, was_float = _as_text(value)
            if text is None:
                return "nested"
            texts.append(text)
            floats.append(was_float)
        sample.text, sample.from_float = texts, np.array(floats, dtype=bool)
    if n < 64:  # a few values (a column name): plain Python is cheaper than building a pandas Series
        sample.digits = np.array([sum(ch.isdigit() for ch in t) for t in sample.text], dtype=np.int64)
    else:
        sample.series = pd.Series(sample.text, dtype=_ARROW_STRING)
        sample.digits = sample.series.str.count(r"[0-9]").to_numpy(dtype=np.int64)
    return sample


def _as_text(value: object) -> tuple[str | None, bool]:
    """A cell as folded text; (None, _) for a nested value; True when it came from an integral float."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | np.bool_):
        return "", False
    elif isinstance(value, int | np.integer):
        return str(int(value)), False
    elif isinstance(value, float | np.floating | Decimal):
        finite = value.is_finite() if isinstance(value, Decimal) else bool(np.isfinite(value))
        if not finite or abs(value) >= 1e18:  # NaN, infinities and numbers too large to be an identifier
            return str(value), False
        if value == int(value):
            return str(int(value)), True
        return str(value), False
    elif isinstance(value, dt.datetime | dt.date):
        return value.isoformat(), False
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", errors="replace")
    elif isinstance(value, list | tuple | dict | set | frozenset | np.ndarray):
        return None, False
    else:
        text = str(value)
    text = _SPACES.sub(" ", fold(text[:MAX_CELL_CHARS])).strip().strip("'\"").strip()
    # Excel keeps a number as text behind a quote; "1.850312345678e14" is a float written out.
    if _FLOAT_TEXT.fullmatch(text):
        number = float(text)
        if abs(number) < 1e18 and number == int(number):
            return str(int(number)), True
    return text, False


_SPACES = re.compile(r"\s+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?")  # a point: not bare digits, not hex keys


# ---------------------------------------------------------------------------------------------
# Values: detectors. Each returns a boolean array over the sample (and may refuse to fire).
# ---------------------------------------------------------------------------------------------

_SEP = r"[ .\-/_]?"
_NIR_CANDIDATE = re.compile(rf"(?<![0-9a-z])[1278](?:{_SEP}[0-9ab]){{12}}(?:{_SEP}\d){{0,2}}(?![0-9a-z])")
_NIR_SHAPE = re.compile(r"[1278]\d{2}(?:0[1-9]|1[0-2]|[2-9]\d)(?:\d{2}|2[ab])\d{6}(\d{2})?")


def _nir_key_ok(compact: str) -> bool:
    body = compact[:13].replace("2a", "19").replace("2b", "18")
    return 97 - int(body) % 97 == int(compact[13:])


def _detect_nir(s: _Sample) -> tuple[np.ndarray, np.ndarray]:
    """NIR: sex 1/2 (7/8 for temporary numbers), year, month, département (2A/2B), commune, order, key.

    Returns (strong, weak): strong when the 15-digit key checks, or the number is written with the
    separators people use for a NIR, or a float rounded the key away; weak for a bare 13-digit
    number of the right shape. CIP13 drug codes (3400...) cannot match: a NIR never starts with 3.
    """
    strong = np.zeros(len(s.text), dtype=bool)
    weak = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(s.digits >= 11):
        text = s.text[i]
        for match in _NIR_CANDIDATE.finditer(text.casefold()):
            raw = match.group()
            compact = re.sub(r"[ .\-/_]", "", raw)
            if not _NIR_SHAPE.fullmatch(compact):
                continue
            if len(compact) == 15:
                strong[i] = _nir_key_ok(compact) or (s.from_float[i] and compact.endswith("00"))
            elif raw != compact:
                strong[i] = True
            else:
                weak[i] = True
            if strong[i]:
                break
    return strong, weak


# Every repetition is bounded (RFC 5321: 64-character local part, 63-character labels): an
# unbounded one makes a search quadratic, and a 20,000-character cell would then hold a worker.
_EMAIL = re.compile(
    r"(?<![\w.%+\-'])[\w.%+\-']{1,64}\s?(?:@|%40|&#0{0,3}64;|&commat;)\s?[\w\-]{1,63}"
    r"(?:\s?\.\s?[\w\-]{1,63}){0,6}\s?\.\s?[a-z]{2,24}"  # a@b.fr, a @ b . fr
    r"|(?<![\w.%+\-])[\w.%+\-]{1,64}\s?[\[({<]\s?(?:at|@|arobase)\s?[\])}>]\s?[\w\-]{1,63}"  # a [at] b [dot] fr
    r"(?:\s?(?:[\[({<]\s?(?:dot|point)\s?[\])}>]|\.)\s?[\w\-]{1,63}){1,6}"
    r"|(?<![\w.+\-])[\w.+\-]{1,64}\s(?:at|arobase)\s[\w\-]{1,63}(?:\s(?:dot|point)\s[\w\-]{1,63}){1,6}",  # a at b dot fr
    re.IGNORECASE,
)
_PHONE_TEXT = re.compile(
    r"(?<![0-9A-Za-z+])0[1-9](?P<a>[ .\-/_]?)\d{2}(?:(?P=a)\d{2}){3}(?![0-9A-Za-z])"  # 06 12 34 56 78, 0612345678
    r"|(?<![0-9A-Za-z+])0[1-9](?:[ .\-_]\d{2}){4}(?![0-9A-Za-z:])"  # mixed separators: 06 12.34-56 78
    r"|(?<![0-9A-Za-z+])\(0[1-9]\)\s?\d{2}(?:[ .\-/_]?\d{2}){3}(?!\d)"  # (06) 12 34 56 78
    r"|(?<![0-9A-Za-z+.,])[67](?P<c>[ .\-/_])\d{2}(?:(?P=c)\d{2}){3}(?![0-9A-Za-z])"  # 6 12 34 56 78: the 0 lost
    r"|(?:\+|\b00)\s?(?:33|262|590|594|596|269|508|681|687|689)\s?(?:\(0\)\s?)?[1-9]"
    r"(?P<b>[ .\-/]?)\d{2}(?:(?P=b)\d{2}){3}(?!\d)"  # +33 6 12 34 56 78, 0033612345678, +262 692 ...
    r"|(?<![\w+])\+\d{1,3}[ .\-/]?(?:\(0\)\s?)?\d{1,4}(?:[ .\-/]?\d{2,4}){2,5}(?!\d)"  # other international
)


def _matches(s: _Sample, re2_pattern: str) -> np.ndarray:
    """A vectorised, case-insensitive filter (pyarrow's RE2: no look-around, no back-references)."""
    if s.series is None:
        return np.ones(len(s.text), dtype=bool)
    return s.series.str.contains(re2_pattern, case=False, regex=True).to_numpy(dtype=bool, na_value=False)


def _detect_text(pattern: re.Pattern, s: _Sample, candidates: np.ndarray) -> np.ndarray:
    """Where ``pattern`` occurs, among the values ``candidates`` lets through."""
    found = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(candidates):
        found[i] = bool(pattern.search(s.text[i]))
    return found


def _detect_phone(s: _Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Phone numbers: (written, ten_digits, bare).

    Written: French and overseas notations with separators, +33/0033, any +CC number: one is enough.
    Ten digits: "0612345678" without separators; a random code may look like that once in a while
    (a 10-character hex key does), so it needs a share. Bare: a number that lost its leading zero
    on the way through a spreadsheet or a CSV reader (9 digits, or 11 digits starting with 33); it
    only counts when the numbers are mostly distinct, so a FINESS number repeated on many rows is not
    mistaken for a phone.
    """
    written = np.zeros(len(s.text), dtype=bool)
    ten = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(s.digits >= 8):
        for match in _PHONE_TEXT.finditer(s.text[i]):
            digits = sum(ch.isdigit() for ch in match.group())
            if match.group().isdigit() and digits == 10:
                ten[i] = True
            elif digits >= 9:  # "+1 234 567" is too short to be anyone's number
                written[i] = True
                break
    bare = np.fromiter(
        ((len(t) == 9 and t.isdigit() and t[0] not in "08") or (len(t) == 11 and t.isdigit() and t.startswith("33")
         and t[2] in "1234679") for t in s.text), dtype=bool, count=len(s.text))
    return written, ten, bare


_IBAN_CANDIDATE = re.compile(r"(?<![A-Z0-9])([A-Z]{2})\d{2}(?:[ .\-]?[A-Z0-9]){11,30}")
# IBAN length by country (SWIFT IBAN registry): an exact length, so random codes rarely qualify.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21,
    "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "DZ": 26, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IL": 23,
    "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MA": 28,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SN": 28,
    "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20, "CI": 28, "CM": 27, "MG": 27, "ML": 28, "BJ": 28, "BF": 28,
}  # fmt: skip


# BBAN shapes of the countries where a random code could pass for an IBAN of the right length; the
# others only need letters and digits. "n": digits, "c": letters or digits, "a": letters.
_IBAN_BBAN = {
    "FR": r"\d{10}[A-Z0-9]{11}\d{2}", "MC": r"\d{10}[A-Z0-9]{11}\d{2}", "GB": r"[A-Z]{4}\d{14}",
    "IE": r"[A-Z]{4}\d{14}", "NL": r"[A-Z]{4}\d{10}", "IT": r"[A-Z]\d{10}[A-Z0-9]{12}", "SM": r"[A-Z]\d{10}[A-Z0-9]{12}",
    "CH": r"\d{5}[A-Z0-9]{12}", "LI": r"\d{5}[A-Z0-9]{12}", "LU": r"\d{3}[A-Z0-9]{13}", "AD": r"\d{8}[A-Z0-9]{12}",
    **dict.fromkeys(("DE", "EE", "BE", "AT", "ES", "PT", "NO", "FI", "DK", "SE", "PL", "HU", "CZ", "SK", "SI", "HR",
                     "LT", "RS", "ME", "BA", "TN", "DZ", "MA", "AE", "IL", "SA", "TR"), r"\d+"),
}  # fmt: skip


def _iban_ok(compact: str) -> bool:
    if not re.fullmatch(_IBAN_BBAN.get(compact[:2], r"[A-Z0-9]+"), compact[4:]):
        return False
    rearranged = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def _detect_iban(s: _Sample) -> np.ndarray:
    """IBANs, with or without spaces, of their country's exact length, whose mod-97 checksum holds."""
    found = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(s.digits >= 10):
        text = s.text[i].upper()
        for match in _IBAN_CANDIDATE.finditer(text):
            length = _IBAN_LENGTHS.get(match[1])
            if length is None:
                continue
            kept, end = 0, match.start()
            while end < len(text) and kept < length:  # the first `length` characters, separators skipped
                kept += text[end] not in " .-"
                end += 1
            ends_a_word = not (end < len(text) and text[end].isalnum())
            if kept == length and ends_a_word and _iban_ok(re.sub(r"[ .\-]", "", text[match.start():end])):
                found[i] = True
                break
    return found


_RIB = re.compile(r"(?<![0-9A-Z])(\d{5})[ \-]?(\d{5})[ \-]?([0-9A-Z]{11})[ \-]?(\d{2})(?![0-9A-Z])")
_RIB_LETTERS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "12345678912345678923456789")


def _detect_rib(s: _Sample) -> np.ndarray:
    """French RIB (bank, branch, account, key) whose key 97 - (89 bank + 15 branch + 3 account) mod 97 holds."""
    found = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(s.digits >= 12):
        for match in _RIB.finditer(s.text[i].upper()):
            bank, branch, account, key = match.groups()
            if not (match.group().isdigit() or " " in match.group() or "-" in match.group()):
                continue  # a RIB is written with spaces, or is all digits; not a random alphanumeric token
            if 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account.translate(_RIB_LETTERS))) % 97 == int(key):
                found[i] = True
    return found


_STREET_TYPES = (
    r"rue|r\.|avenue|av\.?|ave\.?|boulevard|bd|bld|blvd|allee|all\.|impasse|imp\.?|rte|quai|sq\.|lotissement|"
    r"lieu[- ]dit|hameau|faubourg|fbg|esplanade|parvis|rond[- ]point|sentier|sente|ruelle|street|road|lane|drive|"
    r"terrace|crescent"
)
# Street types that are also common words ("1 place en réanimation", "2 cours de chimiothérapie", "voie
# orale"): an address only when the street's name follows with a capital ("3 place Bellecour").
_AMBIGUOUS_STREET_TYPES = r"[Pp]lace|[Pp]l\.|[Rr]oute|[Cc]hemin|[Cc]ours|[Vv]oie|[Pp]assage|[Vv]illa|[Cc]it[ée]|[Ss]quare|[Rr][ée]sidence|[Mm]ont[ée]e|[Pp]romenade"
_ADDRESS = re.compile(
    rf"(?<![\w])\d{{1,5}}\s?(?:bis|ter|quater|[a-d])?\s?,?\s(?:{_STREET_TYPES})\s+[a-z']"  # 12 rue de la Paix
    r"|(?<![\w])\d{1,5}[a-z]?\s(?:[a-z'\-]+\s){1,4}(?:street|road|avenue|ave|lane|drive|boulevard|blvd|"
    r"terrace|crescent|square|gardens)\b"  # 221B Baker Street
    r"|\b(?:rue|boulevard|bd|impasse)\s[a-z]{3,}"  # rue Oberkampf
    r"|\b(?:avenue|allee|quai|square)\s(?:de\s|du\s|des\s|de\sla\s|d'|l')[a-z]{3,}"  # avenue de la Gare
    r"|(?<![\w])\d{1,5}\s?(?:bis|ter)?,?\s(?:chemin|route)\s(?:de\s|du\s|des\s|de\sla\s|d')[a-z]{3,}"  # 3 route de Lyon
    r"|\b(?:cedex|boite postale|lieu[- ]dit)\b",
)
_ADDRESS_CASED = re.compile(
    rf"(?<![\w])\d{{1,5}}\s?(?:bis|ter|quater|[a-dA-D])?\s?,?\s(?:{_AMBIGUOUS_STREET_TYPES})\s"
    r"(?:(?:de|du|des|de la|d'|l')\s?)?[A-Z]"
)
_POSTCODE_CITY = re.compile(r"(?:0[1-9]|[1-8]\d|9[0-8]|2[ab])\d{3}\s([a-z][a-z']{2,45})(?:[ \-][a-z']{1,45}){0,6}")
_UNITS = frozenset({"ui", "iu", "mg", "mcg", "ug", "ml", "kg", "euros", "eur", "unites", "units", "unite", "cp",
                    "personnes", "habitants", "patients", "cas", "sejours", "actes", "jours", "days"})


_ADDRESS_WORDS = (  # RE2 filter: a value without one of these words cannot match _ADDRESS
    r"\b(?:rue|r|av|ave|avenue|boulevard|bd|bld|blvd|chemin|che|allee|all|place|pl|impasse|imp|route|rte|quai|"
    r"square|sq|cite|residence|lotissement|lieu|hameau|faubourg|fbg|esplanade|promenade|parvis|rond|sentier|"
    r"traverse|montee|sente|ruelle|street|road|lane|drive|terrace|crescent|gardens|cedex|boite|cours|voie|"
    r"passage|villa)\b"
)


def _detect_address(s: _Sample) -> tuple[np.ndarray, np.ndarray]:
    """Postal addresses: (street, postcode_city). A street number and type, a named street, cedex or a
    "boîte postale"; or a value that is exactly a five-digit postal code followed by a town."""
    street = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(_matches(s, _ADDRESS_WORDS)):
        street[i] = bool(_ADDRESS.search(s.text[i].casefold()) or _ADDRESS_CASED.search(s.text[i]))
    town = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(s.digits == 5):
        town[i] = bool((m := _POSTCODE_CITY.fullmatch(s.text[i].casefold())) and m[1] not in _UNITS)
    return street, town


# --- dates --------------------------------------------------------------------------------------

_MONTHS = {"jan": 1, "fev": 2, "feb": 2, "mar": 3, "avr": 4, "apr": 4, "mai": 5, "may": 5, "juin": 6, "jun": 6,
           "juil": 7, "jul": 7, "aou": 8, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
_TIME = r"(?:[t\s_]\d{1,2}(?:[:h]\d{2}){0,2}(?:[.,]\d+)?\s?(?:z|[+-]\d{2}:?\d{2})?)?"
_YMD = re.compile(rf"(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}")
_DMY = re.compile(rf"(\d{{1,2}})[-/. ](\d{{1,2}})[-/. ](\d{{4}}|\d{{2}}){_TIME}")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_WORD_DMY = re.compile(r"(\d{1,2})(?:er|st|nd|rd|th)?[\s\-/.]*([a-z]{3,9})\.?[\s\-/.,]*(\d{4})")
_WORD_MDY = re.compile(r"([a-z]{3,9})\.?\s(\d{1,2})(?:st|nd|rd|th)?,?\s(\d{4})")
_BIRTH_PHRASE = re.compile(
    r"\bnee?\s+le\s+\d|\bborn\s+(?:on\s+)?\d|date de naissance\s*:?\s*\d|\bd\.?o\.?b\.?\s*:?\s*\d"
)


def _month_number(word: str) -> int:
    for prefix in (word[:4], word[:3]):
        if prefix in _MONTHS:
            return _MONTHS[prefix]
    return 0


def _parse_dates(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Day-level dates in the usual notations; returns (parsed, year, month, day), month/day order resolved."""
    today = dt.date.today()
    n = len(texts)
    years, months, days = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for i, raw in enumerate(texts):
        if len(raw) < 6 or len(raw) > 40 or not raw[0].isalnum():
            continue
        text = raw.casefold()
        candidates: list[tuple[int, int, int]] = []
        if m := _YMD.fullmatch(text):
            candidates.append((int(m[1]), int(m[2]), int(m[3])))
        elif m := _DMY.fullmatch(text):
            year = int(m[3])
            if len(m[3]) == 2:
                year += 1900 if year > today.year % 100 else 2000
            candidates += [(year, int(m[2]), int(m[1])), (year, int(m[1]), int(m[2]))]
        elif m := _COMPACT_DATE.fullmatch(text):
            candidates += [(int(m[1]), int(m[2]), int(m[3])), (int(text[4:]), int(text[2:4]), int(text[:2]))]
        elif m := _WORD_DMY.fullmatch(text):
            candidates.append((int(m[3]), _month_number(m[2]), int(m[1])))
        elif m := _WORD_MDY.fullmatch(text):
            candidates.append((int(m[3]), _month_number(m[1]), int(m[2])))
        for year, month, day in candidates:
            if 1 <= month <= 12 and 1 <= day <= 31 and 1800 <= year <= 2200:
                try:
                    dt.date(year, month, day)
                except ValueError:
                    continue
                years[i], months[i], days[i] = year, month, day
                break
    return years > 0, years, months, days


def _looks_like_birth_dates(years: np.ndarray, months: np.ndarray, days: np.ndarray) -> bool:
    """Exact dates of birth: plausible (1900..today), day-level, spread over at least a decade.

    Dates of care cover a few years; dates kept at month precision (all on the 1st, or all on
    the 15th) are not exact; a cohort of newborns is indistinguishable from dates of care and
    passes (their exact dates are then caught only by the column name).
    """
    if len(years) < 3:
        return False
    today = dt.date.today()
    ordinal = years * 10000 + months * 100 + days
    plausible = (years >= 1900) & (ordinal <= today.year * 10000 + today.month * 100 + today.day)
    if plausible.mean() < 0.5:  # sentinels (9999-12-31) and a few typos aside, mostly past dates
        return False
    years, days = years[plausible], days[plausible]
    modal_day = np.bincount(days).argmax()
    if np.mean(days == modal_day) > 0.5:  # month precision stored as a date: only the others are exact
        years = years[days != modal_day]
    if len(years) < 3:
        return False
    low, high = (np.percentile(years, [5, 95]) if len(years) >= 20 else (years.min(), years.max()))
    return high - low >= 10


_EPOCH_DAY = {"seconds": 86_400, "milliseconds": 86_400_000, "microseconds": 86_400_000_000,
              "nanoseconds": 86_400_000_000_000}


def _epoch_dates(s: _Sample) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Integers that are Unix times at midnight (seconds to nanoseconds): dates stored as numbers."""
    if not s.numeric or len(s.raw) < 3:
        return None
    values = np.asarray([int(v) for v in s.raw], dtype=np.int64)
    if not np.any(values):
        return None
    for day in sorted(_EPOCH_DAY.values(), reverse=True):  # the coarsest unit first: a day in ns is also one in s
        midnight = np.mod(values, day) == 0
        days = values[midnight] // day
        days = days[(days > -30_000) & (days < 40_000)]  # 1888..2079
        if midnight.mean() >= 0.9 and len(days) >= 0.9 * len(values) and len(days) >= 3:
            stamps = np.datetime64("1970-01-01", "D") + days.astype("timedelta64[D]")
            years = stamps.astype("datetime64[Y]").astype(np.int64) + 1970
            months = stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1
            day_of_month = (stamps - stamps.astype("datetime64[M]")).astype(np.int64) + 1
            return years, months, day_of_month
    return None


def _detect_dates(s: _Sample, parsed: np.ndarray, years: np.ndarray, months: np.ndarray,
                  days: np.ndarray) -> tuple[float, str]:
    """The share of distinct values that are exact birth-like dates (0 when the column is not one)."""
    phrased = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero(_matches(s, r"\bnee?\s|\bborn\b|naissance|\bd\.?o\.?b\b")):
        phrased[i] = bool(_BIRTH_PHRASE.search(s.text[i].casefold()))
    if phrased.sum() >= 1:
        return float(phrased.mean()) or 1.0, "a birth stated in the text"
    enough = parsed.sum() >= 3 and (parsed.mean() >= 0.2 or parsed.sum() >= 20)
    if enough and _looks_like_birth_dates(years[parsed], months[parsed], days[parsed]):
        return float(parsed.mean()), ""
    return 0.0, ""


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


# --- long numeric identifiers -----------------------------------------------------------------------

# 8+ digits, optionally after a short letter prefix and in groups ("IPP0012345678", "2023-000123-45").
_LONG_ID = re.compile(r"(?:[A-Za-z]{1,4}[-_ #:]?)?(\d+(?:[-_ /.]\d+){0,4})")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _luhn_register(s: _Sample, matched: np.ndarray) -> bool:
    """Numbers of a public register of establishments or professionals (FINESS, SIREN, SIRET, RPPS): nearly
    all carry a Luhn check digit, which a phone number or a hospital's patient number has one time in ten."""
    digits = [re.sub(r"\D", "", s.text[i]) for i in np.flatnonzero(matched)]  # the letter prefix has no digit
    return bool(digits) and float(np.mean([_luhn_ok(d) for d in digits])) >= 0.9


def _detect_long_ids(s: _Sample, dates: np.ndarray) -> np.ndarray:
    """8 to 20 digits (optionally after a short letter prefix: "IPP0012345678"), that are not dates
    (20230412) nor CIP13/UCD13 drug codes (3400...)."""
    found = np.zeros(len(s.text), dtype=bool)
    for i in np.flatnonzero((s.digits >= 8) & (s.digits <= 24) & ~dates):
        if not (m := _LONG_ID.fullmatch(s.text[i])) or _DECIMAL.fullmatch(m[1]):
            continue
        found[i] = not re.sub(r"\D", "", m[1]).startswith(("3400", "3401"))
    return found


_DECIMAL = re.compile(r"\d+\.\d+")  # one point: a number written out, not an identifier in groups


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
        kind = {"column": "column", "index": "index", "metadata": "file metadata"}[where]
        detectors = ", ".join(dict.fromkeys(f.detector for f in found))
        key = column if where == "column" else f"{where}:{column}"
        messages[key] = f"{kind} '{shown}' is refused as a direct identifier [{detectors}]: {'; '.join(reasons)}"
    return messages


def find_identifier_columns(frame: pd.DataFrame, *, row_key: str | None = None,
                            exempt: Iterable[str] = ()) -> dict[str, str]:
    """Columns that look like direct identifiers, each with its message; such uploads are refused."""
    return describe(screen_table(frame, row_key=row_key, exempt=exempt))
