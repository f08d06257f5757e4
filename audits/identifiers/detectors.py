"""Value detectors with a checksum or an unambiguous shape: NIR, e-mail, phone, IBAN, RIB, postal address."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from audits.identifiers.sample import _Sample

if TYPE_CHECKING:
    pass

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
