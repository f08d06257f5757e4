"""Dates of birth in the usual notations, and the long numeric identifiers they must not be taken for."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import numpy as np

from audits.identifiers.detectors import _matches
from audits.identifiers.sample import _Sample

if TYPE_CHECKING:
    pass

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
