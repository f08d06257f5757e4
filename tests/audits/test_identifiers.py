"""Identifier screening of uploaded tables: every evasion the issue lists is refused, ordinary cohorts pass."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits import tabular
from audits.identifiers import (
    DETECTORS,
    SAMPLE_LIMIT,
    column_name_term,
    describe,
    find_identifier_columns,
    fold,
    screen_column,
    screen_file_metadata,
    screen_table,
    screen_text,
)
from audits.synth import generate_cohort

N = 400
RNG = np.random.default_rng(20240601)


# --- generators of realistic identifiers ---------------------------------------------------------

def nir(i: int, *, sep: str = "", key: bool = True, dept: str | None = None) -> str:
    """A NIR of the right shape (sex, year, month, département, commune, order) with its key."""
    department = dept or f"{1 + i % 95:02d}"
    body = f"{1 + i % 2}{(40 + i) % 100:02d}{1 + i % 12:02d}{department}{(7 * i) % 1000:03d}{(13 * i + 1) % 1000:03d}"
    digits = body.replace("2A", "19").replace("2B", "18")
    full = body + (f"{97 - int(digits) % 97:02d}" if key else "")
    if not sep:
        return full
    parts = [full[0], full[1:3], full[3:5], full[5:7], full[7:10], full[10:13]] + ([full[13:]] if key else [])
    return sep.join(parts)


def iban_fr(i: int) -> str:
    bban = f"30006{i % 100000:05d}{i * 7919 % 10**11:011d}{i % 97:02d}"
    check = 98 - int(bban + "152700") % 97  # "FR00" as digits: F=15, R=27
    return f"FR{check:02d}{bban}"


def rib(i: int) -> str:
    bank, branch, account = 30000 + i, 10000 + 3 * i, 10**10 + 977 * i
    key = 97 - (89 * bank + 15 * branch + 3 * account) % 97
    return f"{bank} {branch} {account:011d} {key:02d}"


def luhn_complete(stem: str) -> str:
    for last in "0123456789":
        digits = stem + last
        total = sum(int(d) * (2 if i % 2 else 1) - (9 if int(d) * (2 if i % 2 else 1) > 9 else 0)
                    for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError


FIRST = ["Jean", "Marie", "Pierre", "Nathalie", "Mohamed", "Sophie", "Thomas", "Camille", "Michel", "Julie"]
LAST = ["Dupont", "Durand", "Lefebvre", "Moreau", "Garnier", "Kowalczyk", "Nguyen", "Zeller", "Abitbol", "Tessier"]
BIRTHS = [dt.date(1930, 1, 1) + dt.timedelta(days=int(d)) for d in RNG.integers(0, 27000, N)]


def full_names(n: int = N) -> list[str]:
    return [f"{FIRST[i % 10]} {LAST[(i * 3) % 10]}" for i in range(n)]


def detectors_on(values, column: str = "x", *, dtype=None, row_key: bool = False) -> set[str]:
    series = pd.Series(values, dtype=dtype)
    return {f.detector for f in screen_column(column, series, row_key=row_key)}


def parquet_roundtrip(table: pa.Table) -> pd.DataFrame:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return pd.read_parquet(io.BytesIO(buffer.getvalue()))


def csv_roundtrip(frame: pd.DataFrame, tmp_path, sep: str = ",") -> pd.DataFrame:
    path = tmp_path / "upload.csv"
    path.write_text(frame.to_csv(index=False, sep=sep), encoding="utf-8")
    return tabular.read_table(path, "csv")


# --- the issue's accepted examples, each refused naming the column and the detector ---------------

ISSUE_EXAMPLES = [
    ("code", [nir(i, sep="-") for i in range(N)], "nir"),
    ("valeur", [float(nir(i)) for i in range(N)], "nir"),
    ("patient", full_names(), "person_name"),
    ("patient", full_names(), "column_name"),
    ("NomNaissance", [LAST[i % 10] for i in range(N)], "column_name"),
    ("given", [FIRST[i % 10] for i in range(N)], "person_name"),
    ("d", [b.strftime("%Y-%m-%dT00:00:00") for b in BIRTHS], "date_of_birth"),
    ("d", [b.strftime("%d.%m.%Y") for b in BIRTHS], "date_of_birth"),
    ("d", [int(b.strftime("%Y%m%d")) for b in BIRTHS], "date_of_birth"),
    ("contact", [f"06/{i % 90 + 10}/{i % 83 + 10}/{i % 71 + 10}/{i % 67 + 10}" for i in range(N)], "phone"),
    ("contact", [612000000 + 7919 * i for i in range(N)], "phone"),
    ("lieu", [f"{1 + i % 180} rue de la République, 69002 Lyon" for i in range(N)], "postal_address"),
    ("ref", [4_000_000_000 + 104_729 * i for i in range(N)], "long_identifier"),
    ("compte", [iban_fr(i) for i in range(N)], "iban"),
    ("\uff4e\uff4f\uff4d", ["x"] * N, "column_name"),  # full-width "ｎｏｍ"
    ("nom ", ["x"] * N, "column_name"),  # trailing space
    (unicodedata.normalize("NFD", "prénom"), ["x"] * N, "column_name"),
]


@pytest.mark.parametrize(("column", "values", "detector"), ISSUE_EXAMPLES)
def test_every_example_of_the_issue_is_refused_naming_column_and_detector(column, values, detector):
    frame = generate_cohort(N, seed=3).assign(**{column: values})
    found = screen_table(frame, row_key="row_id")
    assert detector in {f.detector for f in found if f.column == column}
    assert not [f for f in found if f.column != column]  # the rest of the cohort stays clean
    message = find_identifier_columns(frame, row_key="row_id")[column]
    assert f"'{column}'" in message and detector in message


@pytest.mark.parametrize(("column", "values", "detector"), [e for e in ISSUE_EXAMPLES if e[2] != "column_name"])
def test_the_issue_examples_survive_a_csv_round_trip(tmp_path, column, values, detector):
    frame = generate_cohort(N, seed=3).assign(**{column: values})
    uploaded = csv_roundtrip(frame, tmp_path)
    assert detector in {f.detector for f in screen_column(column, uploaded[column])}


# --- NIR ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [nir(i) for i in range(N)],  # 15 digits as text
    [int(nir(i)) for i in range(N)],  # as integers
    [nir(i, sep=" ") for i in range(N)],
    [nir(i, sep=".") for i in range(N)],
    [nir(i, sep=" - ").replace(" ", "") for i in range(N)],
    [nir(i, key=False) for i in range(N)],  # 13 digits, no key
    [int(nir(i, key=False)) for i in range(N)],
    [nir(i, key=False, sep=" ") for i in range(N)],
    [nir(i, dept="2A") for i in range(N)],  # Corsica, key computed with 2A -> 19
    [nir(i, dept="2B", sep=" ").upper() for i in range(N)],
    [f"'{nir(i)}" for i in range(N)],  # spreadsheet text marker
    [f'"{nir(i)}"' for i in range(N)],  # quoted inside the cell
    [f"NIR : {nir(i, sep=' ')}" for i in range(N)],  # inside text
    ["\u200b".join(nir(i)) for i in range(N)],  # zero-width spaces between digits
    [nir(i).translate(str.maketrans("0123456789", "０１２３４５６７８９")) for i in range(N)],  # full-width digits
    [nir(i).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")) for i in range(N)],  # Arabic-Indic digits
    [f"{float(nir(i, key=False)) / 1e12:.12f}e14".replace("0000e14", "e14") for i in range(N)],  # 1.850312345678e14
    [float(nir(i, key=False)) * 100 for i in range(N)],  # float that lost its key
    [Decimal(nir(i)) for i in range(N)],
    [-int(nir(i)) for i in range(N)],
    [nir(i) + ".0" for i in range(N)],
    [f'{{"patient": {{"nir": "{nir(i)}"}}}}' for i in range(N)],  # JSON in a cell
    [";".join(nir(i + k) for k in range(3)) for i in range(N)],  # several per cell
])
def test_nir_is_found_in_every_notation(values):
    assert "nir" in detectors_on(values)


def test_a_single_keyed_nir_among_fillers_is_enough():
    values = ["-"] * 20_000 + [nir(7)] + ["inconnu"] * 5000
    assert "nir" in detectors_on(values)
    assert "nir" in detectors_on([None] * 50_000 + [nir(3, sep=" ")], dtype=object)


def test_numbers_shaped_like_a_nir_without_a_valid_key_or_shape_are_not_nirs():
    wrong_key = [nir(i)[:13] + f"{(int(nir(i)[13:]) + 1) % 100:02d}" for i in range(50)] * 8  # repeated: not unique
    cip13 = [f"34009{3000000 + 17 * i:07d}{i % 10}" for i in range(60)] * 5  # drug codes start with 3
    assert "nir" not in detectors_on(wrong_key) and "nir" not in detectors_on(cip13)
    assert detectors_on(cip13) == set()


# --- dates of birth -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", [
    "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.000+01:00",
    "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %m %Y", "%Y%m%d", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%Y", "%d %B %Y",
    "%B %d, %Y", "%d-%b-%Y",
])
def test_dates_of_birth_are_found_in_the_usual_notations(fmt):
    assert "date_of_birth" in detectors_on([b.strftime(fmt) for b in BIRTHS])


def test_dates_of_birth_in_french_month_names_and_typed_columns():
    mois = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
            "novembre", "décembre"]
    assert "date_of_birth" in detectors_on([f"{b.day} {mois[b.month - 1]} {b.year}" for b in BIRTHS])
    stamps = pd.to_datetime(pd.Series(BIRTHS))
    assert "date_of_birth" in detectors_on(stamps)
    assert "date_of_birth" in detectors_on(stamps.dt.tz_localize("Europe/Paris"))
    assert "date_of_birth" in detectors_on(BIRTHS, dtype=object)  # Python dates (Parquet date32)
    with_times = stamps + pd.to_timedelta(RNG.integers(0, 86400, N), unit="s")  # noise cannot hide the day
    assert "date_of_birth" in detectors_on(with_times)
    assert "date_of_birth" in detectors_on([float(b.strftime("%Y%m%d")) for b in BIRTHS])
    assert "date_of_birth" in detectors_on([f"né le {b:%d/%m/%Y} à Lyon" for b in BIRTHS[:3]] + ["-"] * 100)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_dates_of_birth_stored_as_unix_times_are_found(unit):
    stamps = pd.to_datetime(pd.Series(BIRTHS)).astype(f"datetime64[{unit}]")
    assert "date_of_birth" in detectors_on(stamps.astype("int64"))


def test_dates_of_birth_diluted_or_camouflaged_are_found():
    junk = [f"{k:032x}" for k in RNG.integers(0, 2**62, 350)]
    assert "date_of_birth" in detectors_on([b.isoformat() for b in BIRTHS[:150]] + junk)  # 30% of the values
    month_starts = [f"{1950 + i % 50}-{1 + i % 12:02d}-01" for i in range(150)]
    assert "date_of_birth" in detectors_on([b.isoformat() for b in BIRTHS[:100]] + month_starts)
    sentinels = ["9999-12-31", "1800-01-01", "inconnu"] * 40
    assert "date_of_birth" in detectors_on([b.isoformat() for b in BIRTHS[:200]] + sentinels)
    assert "date_of_birth" in detectors_on([f"{b.year}-{b.month}-{b.day}" for b in BIRTHS])  # no zero padding
    assert "date_of_birth" in detectors_on([f"{b.day}/{b.month}/{b.year % 100:02d}" for b in BIRTHS])


def test_coarse_dates_and_dates_of_care_are_not_dates_of_birth():
    months = [f"{y}-{m:02d}" for y in range(2015, 2024) for m in range(1, 13)] * 4
    first_of_month = [f"{1930 + i % 70}-{1 + i % 12:02d}-01" for i in range(N)]  # month precision as a date
    care = [(dt.date(2019, 1, 1) + dt.timedelta(days=int(d))).isoformat() for d in RNG.integers(0, 1460, N)]
    years = [1930 + i % 75 for i in range(N)]
    future = [(dt.date.today() + dt.timedelta(days=int(d))).isoformat() for d in RNG.integers(1, 9000, N)]
    for values in (months, first_of_month, care, years, future):
        assert "date_of_birth" not in detectors_on(values), values[:3]
    assert "date_of_birth" not in detectors_on(pd.to_datetime(pd.Series(care)))
    assert detectors_on([int(c.replace("-", "")) for c in care]) == set()  # YYYYMMDD care dates: not identifiers


# --- e-mail, phone, bank, address ----------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [f"patient{i}@example.fr" for i in range(N)],
    [f"Jean.Dupont{i}@Hopital-Exemple.FR" for i in range(N)],
    [f"jean.dupont{i} @ example . fr" for i in range(N)],
    [f"jean.dupont{i} [at] example [dot] fr" for i in range(N)],
    [f"j.dupont{i}(at)example.org" for i in range(N)],
    [f"JEAN.DUPONT{i}@EXAMPLE.FR" for i in range(N)],
    [f"jean.dupont{i} arobase example point fr" for i in range(N)],
    [f"jean.dupont{i} at example dot fr" for i in range(N)],
    [f"jean.dupont{i}%40example.fr" for i in range(N)],
    [f"jean{i}＠example．fr" for i in range(N)],  # full-width @ and dot
    [f"contacter {LAST[i % 10].lower()}@example.com avant le rendez-vous" for i in range(N)],
])
def test_email_addresses_are_found(values):
    assert "email" in detectors_on(values)


PHONE_NOTATIONS = [
    "06 12 34 56 {:02d}", "06.12.34.56.{:02d}", "06-12-34-56-{:02d}", "06/12/34/56/{:02d}", "06123456{:02d}",
    "+33 6 12 34 56 {:02d}", "+33612345{:03d}", "0033612345{:03d}", "+33 (0)6 12 34 56 {:02d}",
    "0033 6 12 34 56 {:02d}", "01 42 34 56 {:02d}", "+262 692 12 34 {:02d}", "+32 470 12 34 {:02d}",
    "tél. : 07 12 34 56 {:02d}", "06_12_34_56_{:02d}", "06 12.34-56 {:02d}", "06 12 34 56 {:02d}\u200b",
    "(06) 12 34 56 {:02d}", "6 12 34 56 {:02d}", "+33.6.12.34.56.{:02d}",
]


@pytest.mark.parametrize("notation", PHONE_NOTATIONS)
def test_french_phone_numbers_are_found_in_every_usual_notation(notation):
    assert "phone" in detectors_on([notation.format(i % 100) for i in range(N)])


def test_phone_numbers_that_lost_their_leading_zero_are_found():
    assert "phone" in detectors_on([612345678 + 1009 * i for i in range(N)])  # 06... stored as an integer
    assert "phone" in detectors_on([33612345678 + 1009 * i for i in range(N)])  # +33 6... as an integer
    assert "phone" in detectors_on([f"{712345678 + 1009 * i}" for i in range(N)])  # as text
    assert "phone" in detectors_on([float(612345678 + 1009 * i) for i in range(N)] + [None] * 50)
    assert "phone" in detectors_on(["\u200b".join(f"06{12345600 + i}") for i in range(N)])


def test_nine_digit_codes_repeated_on_many_rows_or_with_a_luhn_key_are_not_phones():
    finess = [luhn_complete(f"{d:02d}{7000000 + 31 * i:06d}"[:8]) for i, d in enumerate(range(60, 90))]
    repeated = pd.Series(np.array(finess, dtype=object)[RNG.integers(0, len(finess), 5000)])
    assert detectors_on(repeated) == set()  # an establishment number shared by many stays
    unique_finess = [luhn_complete(f"{600000000 + 977 * i}"[:8]) for i in range(N)]
    assert detectors_on([int(v) for v in unique_finess]) == set()  # one establishment per row: a Luhn register
    dates_times = [f"{1 + i % 28:02d}/03/2023 10:{i % 60:02d}" for i in range(N)]
    assert "phone" not in detectors_on(dates_times)


def test_ibans_and_ribs_are_found_only_when_their_checksum_holds():
    assert "iban" in detectors_on([iban_fr(i) for i in range(N)])
    spaced = [" ".join(iban_fr(i)[k:k + 4] for k in range(0, 27, 4)) for i in range(N)]
    assert "iban" in detectors_on(spaced)
    assert "iban" in detectors_on([s.lower() for s in spaced])
    assert "iban" in detectors_on(["DE89 3704 0044 0532 0130 00"] + ["-"] * 50)
    for sep in "-.":
        assert "iban" in detectors_on([sep.join(iban_fr(i)[k:k + 4] for k in range(0, 27, 4)) for i in range(N)])
    assert "iban" in detectors_on([f"virement sur {iban_fr(3)} reçu"] + ["RAS"] * 30)
    broken = [iban_fr(i)[:-1] + str((int(iban_fr(i)[-1]) + 1) % 10) for i in range(50)] * 4
    assert "iban" not in detectors_on(broken)
    assert "rib" in detectors_on([rib(i) for i in range(N)])
    assert "rib" not in detectors_on([rib(i)[:-2] + f"{(int(rib(i)[-2:]) + 1) % 100:02d}" for i in range(N)])


@pytest.mark.parametrize("values", [
    [f"{1 + i % 180} rue de la Paix" for i in range(N)],
    [f"{1 + i % 99} bis avenue Foch 75016 Paris" for i in range(N)],
    [f"{1 + i % 99}, boulevard Haussmann" for i in range(N)],
    [f"{1 + i % 50} allée des Tilleuls, 33000 Bordeaux" for i in range(N)],
    [f"{1 + i % 50} imp. des Lilas" for i in range(N)],
    [f"{1 + i % 300}B Baker Street, London" for i in range(N)],
    [f"Résidence les Pins, bât. {i % 9}, 13008 Marseille Cedex" for i in range(N)],
    [f"lieu-dit Les Granges {i}" for i in range(N)],
    ["RUE   OBERKAMPF"] * 3 + ["-"] * 100,
    [f"{i % 90 + 1} route de lyon" for i in range(N)],
    [f"{i % 90 + 1} chemin des vignes" for i in range(N)],
    [f"{75001 + i % 20} Paris" for i in range(N)],  # postal code and town
])
def test_postal_addresses_are_found(values):
    assert "postal_address" in detectors_on(values)


def test_clinical_phrases_and_doses_are_not_addresses():
    values = ["2 cours de chimiothérapie", "voie orale", "50000 UI", "1 place en réanimation", "3 comprimés",
              "Avenue thérapeutique", "25000 UI", "route orale", "10 mg matin et soir"] * 20
    assert "postal_address" not in detectors_on(values)


# --- long numeric hospital identifiers -------------------------------------------------------------

@pytest.mark.parametrize("values", [
    [4_000_000_000 + 104_729 * i for i in range(N)],  # 10-digit IPP
    [f"{104_729 * i:010d}" for i in range(1, N + 1)],  # with leading zeros, as text
    [f"IPP{4_000_000_000 + 104_729 * i}" for i in range(N)],  # with a letter prefix
    [10_000_000 + 7919 * i for i in range(N)],  # 8 digits
    [4_000_000_000 + 104_729 * (i // 2) for i in range(N)],  # a patient with two stays
    [float(4_000_000_000 + 104_729 * i) for i in range(N)] + [None] * N,  # NaN-padded: read as floats
    [f"2023-{i:06d}-{i % 97:02d}" for i in range(N)],  # in groups
    [f"IPP-{3_000_000_000 + 7 * i}" for i in range(N)],
    [str(3_000_000_000 + 7919 * i) for i in range(160)] + [f"{k:032x}" for k in range(240)],  # 40% of the values
])
def test_long_numeric_identifiers_unique_per_row_are_found(values):
    assert "long_identifier" in detectors_on(values)


def test_row_numbers_drug_codes_and_shared_codes_are_not_long_identifiers():
    assert detectors_on(np.arange(1_000_000_000, 1_000_000_000 + N)) == set()  # contiguous: a row numbering
    assert detectors_on(RNG.permutation(np.arange(N))) == set()
    assert detectors_on([f"34009{3000000 + 17 * i:07d}{i % 10}" for i in range(N)]) == set()  # CIP13
    stays = np.array([4_000_000_000 + 104_729 * k for k in range(20)])[RNG.integers(0, 20, 5000)]
    assert "long_identifier" not in detectors_on(stays)  # 20 values over 5000 rows: a code, not a person


# --- person names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    full_names(),
    [f"{LAST[i % 10].upper()} {FIRST[(i * 7) % 10]}" for i in range(N)],
    [f"{LAST[i % 10]}, {FIRST[(i * 7) % 10]}" for i in range(N)],
    [n.lower() for n in full_names()],
    [f"Jean-{FIRST[i % 10]} {LAST[(i * 3) % 10]}" for i in range(N)],
    [f"{FIRST[i % 10]}{LAST[(i * 3) % 10]}" for i in range(N)],  # JeanDupont
    [f"{FIRST[i % 10]}_{LAST[(i * 3) % 10]}_{i}" for i in range(N)],
    [n.replace("a", "\u0430") for n in full_names()],  # Cyrillic a
    ["\u200b".join(n) for n in full_names()],  # zero-width spaces between letters
    [unicodedata.normalize("NFD", f"Hélène {LAST[i % 10]}") for i in range(N)],
    [f"consultation avec le Dr {LAST[i % 10]} le matin" for i in range(N)],
    [f"patiente vue par Mme {LAST[i % 10]} pour un bilan complet" for i in range(N)],
    [FIRST[i % 10] for i in range(N)],  # first names alone
    ["Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Garnier", "Fournier", "Girard"] * 40,
    ["Jean Dupont", "Marie Curie"] + ["-"] * 5000,  # two rows among fillers
    [" ".join(n) for n in full_names()],  # spelled out: "J e a n   D u p o n t"
    [f"{FIRST[i % 10][0]}. {LAST[i % 10]}" for i in range(N)],  # initial and family name
    [FIRST[i % 10].lower() for i in range(N)],
])
def test_person_names_are_found(values):
    assert "person_name" in detectors_on(values)


def test_places_hospitals_conditions_and_categories_are_not_person_names():
    departements = ["Ain", "Aisne", "Allier", "Ardèche", "Bouches-du-Rhône", "Calvados", "Charente-Maritime",
                    "Corse-du-Sud", "Haute-Corse", "Côte-d'Or", "Finistère", "Gironde", "Haute-Garonne", "Hérault",
                    "Ille-et-Vilaine", "Isère", "Loire-Atlantique", "Lot-et-Garonne", "Marne", "Meurthe-et-Moselle",
                    "Moselle", "Nord", "Pas-de-Calais", "Bas-Rhin", "Rhône", "Paris", "Seine-Saint-Denis",
                    "Val-de-Marne", "Val-d'Oise", "Territoire de Belfort", "Guadeloupe", "La Réunion", "Mayotte",
                    "Hauts-de-Seine", "Vendée", "Vienne", "Vosges", "Yonne", "Essonne", "Var", "Vaucluse"]
    hospitals = ["Hôpital Saint-Louis", "CHU de Bordeaux", "Hôpital Necker", "Clinique Pasteur", "CH de Lens",
                 "Hôpital Saint-Antoine", "Hôpital Louis-Mourier", "Centre Léon Bérard", "Institut Curie"]
    conditions = ["Diabète de type 2", "Insuffisance cardiaque", "Maladie de Parkinson", "Maladie d'Alzheimer",
                  "Hypertension artérielle", "BPCO", "Cancer du sein", "Syndrome de Down"]
    misc = ["Homme", "Femme", "Oui", "Non", "blanc", "roux", "brun", "petit", "grand", "moyen", "urgence",
            "programmé", "ambulatoire", "hospitalisation complète", "France", "Lorraine", "Iris"]
    for values in (departements, hospitals, conditions, misc, list(generate_cohort(2000, seed=4)["region"])):
        assert "person_name" not in detectors_on(values * 5), values


# --- column names ---------------------------------------------------------------------------------

IDENTIFYING_NAMES = [
    "nom", "NOM", "Nom ", " nom", "\uff4e\uff4f\uff4d", "n\u200bom", "n\u043em", "\U0001d427\U0001d428\U0001d426",
    "\u0274\u1d0f\u1d0d", unicodedata.normalize("NFD", "prénom"), "PRÉNOM", "Prenom", "prenoms", "NomNaissance",
    "nom_naissance", "NOM DE NAISSANCE", "nomDeNaissance", "NOMNAISSANCE", "nom d'usage", "Nom_Usage",
    "nom_jeune_fille", "first_name", "FirstName", "lastName", "LAST NAME", "surname", "given_name", "given",
    "family_name", "fullName", "patient_name", "nom_patient", "name", "Names", "initiales", "e-mail", "E-Mail",
    "email_patient", "courriel", "mail", "téléphone", "tel", "Tel1", "TEL_PORTABLE", "mobile", "portable",
    "phone_number", "PhoneNumber", "fax", "adresse", "Adresse postale", "address_line_1", "rue", "street",
    "code_postal", "CodePostal", "CP", "zip", "zipcode", "postcode", "NIR", "nir_patient", "nss", "num_secu",
    "numéro de sécurité sociale", "NumeroSecuriteSociale", "social_security_number", "SSN", "INS", "matricule_INS",
    "ins_nir", "IPP", "ipp_patient", "IPPPatient", "NIP", "numero_patient", "num_patient", "patient_id",
    "id_patient", "PatientID", "patient", "MRN", "medical_record_number", "num_dossier", "dossier",
    "date_naissance", "date de naissance", "Date_de_Naissance", "DDN", "DOB", "birth_date", "birthDate",
    "date_of_birth", "dateOfBirth", "DATENAISSANCE", "datenais", "dt_naiss", "naissance", "lieu_naissance",
    "birthday", "IBAN", "RIB", "numero_insee", "num_insee", "carte_vitale", "passeport", "latitude", "longitude",
    "geolocalisation", "coordonnees", "identite", "login", "username", "n_o_m", "D.D.N.", "N-I-R", "numtel",
    "NumTel", "tel_portable",
]
ORDINARY_NAMES = [
    "age", "age_band", "sexe", "sex", "cim10", "CIM10", "code_cim10", "atc", "code_atc", "departement", "region",
    "region_name", "nom_region", "nom_commune", "nom_etablissement", "NomEtablissement", "libelle_acte",
    "quintile_defavorisation", "deprivation_quintile", "mois_soin", "date_soin", "annee_soin", "annee_naissance",
    "mois_naissance", "poids_naissance", "birth_year", "year_of_birth", "BirthWeight", "rang_naissance",
    "ins_cardiaque", "insuffisance_renale", "code_insee", "insee", "code_commune", "nombre_sejours",
    "nb_sejours", "nomenclature", "hotel", "telemedecine", "economie", "row_id", "id", "identifiant", "age_patient",
    "sexe_patient", "departement_patient", "outcome", "label", "prediction", "score", "risk_score", "adresse_par",
    "identite_genre", "given_drug", "family_history", "contact_covid", "voie_administration", "deces_domicile",
    "unite_mobile", "cout", "duree_sejour", "diabetes", "hypertension", "heart_failure", "ckd", "copd", "gir",
    "ghm", "finess", "mode_entree", "mode_sortie", "pseudo_id", "cle_pseudonyme", "num_sejour", "dossier_complet",
    "BEN_NIR_PSA", "ipp_hash", "nir_sha256", "BEN_NAI_ANN", "BEN_NAI_MOI", "BEN_RES_DPT", "NUM_ENQ", "EXE_SOI_DTD",
]


@pytest.mark.parametrize("name", IDENTIFYING_NAMES)
def test_identifying_column_names_are_refused_however_they_are_written(name):
    assert column_name_term(name) is not None
    found = screen_column(name, pd.Series(["x"] * 10))
    assert [f.detector for f in found] == ["column_name"]


@pytest.mark.parametrize("name", ORDINARY_NAMES)
def test_ordinary_column_names_pass(name):
    assert column_name_term(name) is None


def test_a_name_saying_pseudonymised_is_judged_on_its_values():
    hashed = [f"{k:016x}{k:016x}"[:17].upper() for k in RNG.integers(2**40, 2**62, N)]
    assert screen_column("BEN_NIR_PSA", pd.Series(hashed)) == []
    assert {f.detector for f in screen_column("nir_pseudo", pd.Series([nir(i) for i in range(N)]))} >= {"nir"}


def test_folding_removes_invisible_characters_look_alikes_and_accents():
    assert fold("Pr\u00e9\u200bnom") == "Prenom"
    assert fold(unicodedata.normalize("NFD", "Hélène")) == "Helene"
    assert fold("\uff11\uff18\uff15") == "185" and fold("١٨٥") == "185"
    assert fold("M\u0430rie") == "Marie"  # Cyrillic a


# --- the declared row key ----------------------------------------------------------------------------

def test_a_pseudonymous_row_key_may_have_any_name_but_not_an_identifier_value():
    hex_keys = [f"{k:032x}" for k in RNG.integers(0, 2**62, N)]
    frame = generate_cohort(N, seed=5).drop(columns="row_id").assign(patient_id=hex_keys)
    assert screen_table(frame, row_key="patient_id") == []
    assert {f.detector for f in screen_table(frame)} == {"column_name"}  # undeclared: a patient identifier
    ben_nir_psa = [f"{k:x}".upper()[:17].rjust(17, "A") for k in RNG.integers(2**60, 2**62, N)]
    assert screen_table(frame.assign(ben_nir_psa=ben_nir_psa).drop(columns="patient_id"), row_key="ben_nir_psa") == []
    uuids = [f"{a:08x}-{b:04x}-4{c:03x}-a{d:03x}-{e:012x}" for a, b, c, d, e in
             RNG.integers(0, 2**31, (N, 5)) % np.array([2**32, 2**16, 2**12, 2**12, 2**31])]
    assert screen_table(frame.assign(patient_id=uuids), row_key="patient_id") == []
    ipp = [4_000_000_000 + 104_729 * i for i in range(N)]
    found = screen_table(frame.assign(patient_id=ipp), row_key="patient_id")
    assert [(f.detector, f.detail) for f in found] == [
        ("long_identifier", "a declared row key must be row numbers or a non-numeric pseudonym")]
    found = screen_table(frame.assign(patient_id=[nir(i) for i in range(N)]), row_key="patient_id")
    assert "nir" in {f.detector for f in found}


# --- evasions through the upload formats ----------------------------------------------------------------

def test_semicolon_csv_and_quoted_numbers_are_screened(tmp_path):
    frame = generate_cohort(N, seed=6).assign(code=[nir(i) for i in range(N)], d=[f"{b:%d/%m/%Y}" for b in BIRTHS])
    path = tmp_path / "upload.csv"
    path.write_text(frame.to_csv(index=False, sep=";", quoting=1), encoding="utf-8")
    uploaded = tabular.read_table(path, "csv")
    found = {(f.column, f.detector) for f in screen_table(uploaded, row_key="row_id")}
    assert {("code", "nir"), ("d", "date_of_birth")} <= found
    assert {c for c, _ in found} == {"code", "d"}


def test_parquet_typed_columns_are_screened():
    names = pa.array(full_names()).dictionary_encode()
    table = pa.table({
        "a": pa.array([int(nir(i)) for i in range(N)], pa.int64()),
        "b": pa.array([float(nir(i)) for i in range(N)], pa.float64()),
        "c": pa.array([Decimal(nir(i)) for i in range(N)], pa.decimal128(20, 0)),
        "d": pa.array(BIRTHS, pa.date32()),
        "e": pa.array([dt.datetime(b.year, b.month, b.day) for b in BIRTHS], pa.timestamp("ms")),
        "f": names,
        "g": pa.array([n.encode() for n in full_names()], pa.binary()),
        "h": pa.array([612345678 + 1009 * i for i in range(N)], pa.uint32()),
        "i": pa.array([[n] for n in full_names()], pa.list_(pa.string())),
        "ok": pa.array(RNG.integers(18, 99, N), pa.int16()),
    })
    frame = parquet_roundtrip(table)
    found = {(f.column, f.detector) for f in screen_table(frame)}
    assert {("a", "nir"), ("b", "nir"), ("c", "nir"), ("d", "date_of_birth"), ("e", "date_of_birth"),
            ("f", "person_name"), ("g", "person_name"), ("h", "phone"), ("i", "nested_values")} <= found
    assert "ok" not in {c for c, _ in found}


def test_identifiers_hidden_in_a_few_rows_of_a_long_column_are_found():
    rows = 200_000
    for hidden, detector in ((nir(11, sep=" "), "nir"), ("jean.dupont@example.fr", "email"),
                             ("06 12 34 56 78", "phone"), (iban_fr(5), "iban"), ("12 rue de la Paix", "postal_address")):
        values = np.full(rows, "-", dtype=object)
        values[RNG.integers(0, rows, 5)] = hidden
        assert detector in detectors_on(values), detector
        mostly_empty = np.full(rows, None, dtype=object)
        mostly_empty[[3, 99_999]] = hidden
        assert detector in detectors_on(mostly_empty), detector


def test_identifiers_in_the_label_or_sensitive_columns_are_reported():
    frame = generate_cohort(N, seed=8)
    frame["region"] = full_names()
    frame["outcome"] = [int(nir(i)) for i in range(N)]
    found = {(f.column, f.detector) for f in screen_table(frame, row_key="row_id")}
    assert {("region", "person_name"), ("outcome", "nir")} <= found


# --- what passes ----------------------------------------------------------------------------------------

def realistic_cohort(rows: int, seed: int) -> pd.DataFrame:
    """generate_cohort plus the columns an SNDS extract carries that are not identifying."""
    rng = np.random.default_rng(seed)
    frame = generate_cohort(rows, seed=seed)
    frame["sexe"] = np.where(frame["sex"] == "F", 2, 1)
    frame["cim10"] = rng.choice(["E11", "I10", "C50.9", "J44.1", "N18.3", "E66.0", "F32", "I50.9"], rows)
    frame["atc"] = rng.choice(["A10BA02", "C09AA05", "N02BE01", "C10AA05", "B01AC06", "A02BC01"], rows)
    frame["departement"] = rng.choice(["75", "13", "69", "2A", "2B", "971", "974", "976", "01", "59"], rows)
    frame["quintile_defavorisation"] = rng.integers(1, 6, rows)
    frame["mois_soin"] = [f"20{y}-{m:02d}" for y, m in zip(rng.integers(19, 24, rows), rng.integers(1, 13, rows),
                                                             strict=True)]
    frame["date_soin"] = (pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 1460, rows), unit="D"))
    frame["cout_total"] = np.round(rng.gamma(2.0, 800.0, rows), 2)
    frame["cout_arrondi"] = np.round(rng.gamma(2.0, 800.0, rows))
    frame["nb_consultations"] = rng.poisson(6, rows)
    frame["duree_sejour"] = rng.integers(0, 60, rows)
    frame["flag_ald"] = rng.random(rows) < 0.2
    frame["deces"] = rng.integers(0, 2, rows)
    frame["pseudo"] = [f"{k:016x}" for k in rng.integers(0, 2**62, rows)]
    frame["finess"] = rng.choice(["750712184", "130786049", "690781810", "330781196", "590780193"], rows)
    frame["cip13"] = rng.choice(["3400930000001", "3400936404052", "3400921744712"], rows)
    frame["annee_naissance"] = rng.integers(1925, 2006, rows)
    frame["age_mois"] = rng.integers(0, 1200, rows)
    frame["imc"] = np.round(rng.normal(26, 4, rows), 1)
    return frame


def test_a_realistic_non_identifying_cohort_passes(tmp_path):
    frame = realistic_cohort(5000, seed=9)
    assert screen_table(frame, row_key="row_id") == []
    assert screen_table(frame) == []  # row numbers need no declaration
    assert screen_table(csv_roundtrip(frame, tmp_path, sep=";")) == []
    assert screen_table(parquet_roundtrip(pa.Table.from_pandas(frame, preserve_index=False))) == []
    frame.to_parquet(tmp_path / "cohort.parquet")
    assert screen_file_metadata(tmp_path / "cohort.parquet", "parquet") == []


@pytest.mark.parametrize("seed", range(5))
def test_generated_cohorts_pass_whatever_the_seed(seed):
    assert screen_table(generate_cohort(3000, seed=seed), row_key="row_id") == []


# --- reporting --------------------------------------------------------------------------------------------

def test_one_message_per_column_names_every_detector_and_no_value():
    frame = generate_cohort(N, seed=10).assign(
        patient=full_names(), code=[nir(i, sep=" ") for i in range(N)], d=[b.isoformat() for b in BIRTHS])
    findings = screen_table(frame, row_key="row_id")
    assert all(f.detector in DETECTORS for f in findings)
    assert all(f.share is None if f.detector == "column_name" else 0 < f.share <= 1 for f in findings)
    messages = describe(findings)
    assert set(messages) == {"patient", "code", "d"}
    assert "column_name" in messages["patient"] and "person_name" in messages["patient"]
    assert "'code'" in messages["code"] and "[nir" in messages["code"]
    everything = " ".join(messages.values())
    assert not [v for v in [*full_names(), *(nir(i, sep=" ") for i in range(N)), *LAST] if v in everything]
    assert [f.as_dict() for f in findings if f.column == "d"] == [
        {"column": "d", "detector": "date_of_birth", "share": 1.0, "detail": "", "where": "column"}]


def test_screening_reads_a_bounded_sample_of_a_long_high_cardinality_column():
    rows = 300_000
    keys = pd.Series([f"{k:016x}" for k in RNG.integers(0, 2**62, rows)], dtype="str")
    found = screen_column("pseudo", keys)
    assert found == []
    emails = keys.str.cat(["@example.fr"] * rows)
    [finding] = screen_column("pseudo", emails)
    assert finding.detector == "email" and finding.share == 1.0
    assert SAMPLE_LIMIT <= 5000


# --- what else an uploaded file stores ------------------------------------------------------------------

def test_column_names_that_are_identifiers_themselves_are_refused():
    for header, detector in (("Jean Dupont", "person_name"), ("jean.dupont@example.fr", "email"),
                             ("tel 06 12 34 56 78", "phone"), (nir(3, sep=" "), "nir"),
                             ("12 rue de la Paix", "postal_address")):
        found = screen_column(header, pd.Series([0, 1] * 50))
        assert [(f.detector, f.share) for f in found if f.detector != "column_name"] == [(detector, None)]
    assert screen_column("Charlson Score", pd.Series([0, 1] * 50)) == []


def test_unused_categories_and_a_stored_index_are_screened():
    names = pd.Categorical(["A"] * N, categories=["A", *sorted(set(full_names(50)))])  # values no row uses
    assert "person_name" in detectors_on(pd.Series(names))
    frame = generate_cohort(N, seed=11).assign(code=[nir(i) for i in range(N)]).set_index("code")
    back = parquet_roundtrip(pa.Table.from_pandas(frame))
    found = screen_table(back, row_key="row_id")
    assert ("index", "code", "nir") in {(f.where, f.column, f.detector) for f in found}
    assert {(f.where, f.column) for f in found} == {("index", "code")}
    assert "index:code" in find_identifier_columns(back, row_key="row_id")


def test_parquet_metadata_is_screened(tmp_path):
    frame = generate_cohort(N, seed=12)
    clean = tmp_path / "clean.parquet"
    frame.to_parquet(clean)
    assert screen_file_metadata(clean, "parquet") == []
    frame.attrs["notes"] = [nir(i, sep=" ") for i in range(20)] + ["jean.dupont@example.fr"]
    leaky = tmp_path / "leaky.parquet"
    frame.to_parquet(leaky)
    found = screen_file_metadata(leaky, "parquet")
    assert {("pandas", "nir"), ("pandas", "email")} <= {(f.column, f.detector) for f in found}
    assert all(f.where == "metadata" for f in found)
    custom = tmp_path / "custom.parquet"
    table = pa.Table.from_pandas(generate_cohort(N, seed=12)).replace_schema_metadata(
        {"notes": "Mme Durand, née le 12/03/1985, 06 12 34 56 78"})
    pq.write_table(table, custom)
    found = {f.detector for f in screen_file_metadata(custom, "parquet") if f.column == "notes"}
    assert {"person_name", "date_of_birth", "phone"} <= found
    assert "file metadata 'notes'" in describe(screen_file_metadata(custom, "parquet"))["metadata:notes"]
    assert screen_file_metadata(tmp_path / "x.csv", "csv") == []


def test_a_few_strong_identifiers_among_a_million_pseudonymous_keys_are_found():
    rows = 1_000_000
    keys = np.array([f"{k:016x}{j:016x}" for k, j in RNG.integers(0, 2**63, (rows, 2))], dtype=object)
    assert screen_column("cle", pd.Series(keys, dtype="str")) == []
    for hidden, detector in ((nir(5), "nir"), ("p.durand@example.org", "email"), ("+33 6 12 34 56 78", "phone"),
                             (iban_fr(9), "iban")):
        planted = keys.copy()
        planted[RNG.choice(rows, 20, replace=False)] = hidden
        found = screen_column("cle", pd.Series(planted, dtype="str"))
        assert [(f.detector, f.detail) for f in found] == [(detector, "in a few rows")], detector


def test_overlong_cells_are_refused_and_cannot_stall_the_screening():
    import time

    padded = ["x" * 30_000 + f" jean.dupont{i}@example.fr" for i in range(50)]
    found = {f.detector: f.share for f in screen_column("note", pd.Series(padded, dtype="str"))}
    assert found == {"oversized_values": 1.0}  # the padding cannot push an e-mail out of sight
    one_long = pd.Series(["RAS"] * 100_000 + ["y" * 5000], dtype="str")
    assert [f.detector for f in screen_column("note", one_long)] == ["oversized_values"]
    hostile = pd.Series([("x" * 1990) + f"@{i}" for i in range(3000)] + [("1" * 1990) + f"{i}." for i in range(3000)])
    start = time.perf_counter()
    assert screen_column("note", hostile) == []
    assert time.perf_counter() - start < 20  # every pattern is linear: quadratic ones took minutes here


# -- free text (incident reports, answers) ---------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    (f"Le patient {nir(3)} a été mal classé.", ["nir"]),
    (f"patient {nir(4, sep=' ')} mal classé", ["nir"]),
    ("Écrivez-moi à jean.dupont@example.org", ["email"]),
    ("Appelez le 06 12 34 56 78 pour les détails", ["phone"]),
    ("Mme Durand, née le 12/03/1950, a été mal classée", ["date_of_birth", "person_name"]),
    ("Elle habite au 12 rue de la Paix à Paris", ["postal_address"]),
    (f"Virement sur {iban_fr(5)} refusé", ["iban"]),
])
def test_free_text_is_screened_with_the_same_detectors(text, expected):
    assert screen_text(text) == expected


@pytest.mark.parametrize("text", [
    "The model underestimates risk for women over 75 in our cohort; calibration slope 0.8 on 2,345 stays.",
    "Le modèle surestime le risque au-delà de 75 ans. Version 1.2.0, AUC 0,71, seuil 0.05 au lieu de 0.5.",
    "Suspected bias",
    "   ",
])
def test_ordinary_reports_pass_the_screening(text):
    assert screen_text(text) == []


def test_a_long_text_is_screened_to_its_end():
    text = "Rien de personnel ici. " * 2_000 + f"Sauf le NIR {nir(9)} tout à la fin."
    assert screen_text(text) == ["nir"]
