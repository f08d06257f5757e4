"""Screening uploaded tables for direct identifiers, by column name and by value, in French and English.

A reference dataset (and a predictions file) must be pseudonymised: no names, contact details,
national or hospital numbers, bank details, postal addresses or exact dates of birth. This
module decides, column by column, whether a table carries any. It is pure computation (no
database, no Flask) so the services, the CLI and the tests call the same code.

How a column is screened:
- **Its name** is matched against a French and English dictionary of identifying names once
  folded (``audits.identifiers.names``: NFKC, invisible characters, look-alike letters, accents,
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

The package: ``names`` (column names), ``sample`` (the distinct values screened), ``detectors``
(shapes with a checksum), ``dates``, ``persons``, and ``screen``, which puts them together.
"""

from audits.identifiers.names import column_name_term, fold
from audits.identifiers.sample import MAX_CELL_CHARS, SAMPLE_LIMIT
from audits.identifiers.screen import (
    DETECTORS,
    Finding,
    describe,
    find_identifier_columns,
    screen_column,
    screen_file_metadata,
    screen_message,
    screen_table,
    screen_text,
)

__all__ = [
    "DETECTORS",
    "MAX_CELL_CHARS",
    "SAMPLE_LIMIT",
    "Finding",
    "column_name_term",
    "describe",
    "find_identifier_columns",
    "fold",
    "screen_column",
    "screen_file_metadata",
    "screen_message",
    "screen_table",
    "screen_text",
]
