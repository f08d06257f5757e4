"""Service errors in the page's language: each field key as the label its form shows, each message
through the catalogue.

The services raise ``ValidationFailed`` with ``{field_key: [English message]}``: the JSON API hands
those to its clients unchanged, and the services know no Flask, so they cannot translate. The pages
do it here, at the edge. A message is an English template: ``MESSAGES`` lists every one the services
and marshmallow can produce, each marked for extraction (``N_``) so that its French lives in the same
catalogue as the pages'. A template's ``%(name)s`` placeholders become named groups of a pattern that
reads the values back out of a service's message; numbers are then written the locale's way, names and
codes quoted from the input are marked as data (``translate="no"``), and a placeholder that holds a
sentence of its own (a reason, a rule) is localised in turn. A message no template reads is shown as
it came, marked ``lang="en"``: honest, and a test keeps the list complete.

Nothing here imports Flask: the caller passes the catalogue's ``gettext`` and the locale, so tests can
run it on the compiled catalogue alone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel.numbers import format_decimal, format_percent
from markupsafe import Markup, escape

from audits.identifiers.screen import DETECTORS

Gettext = Callable[[str], str]


def N_(message: str) -> str:
    """Mark an English message for the catalogue; it is translated when shown (``localise``)."""
    return message


# Every message a page form can receive from a service, as an English template (the msgid).
MESSAGES: tuple[str, ...] = (
    # marshmallow's own messages, for the field types and validators our schemas use
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid email address."),
    N_("Not a valid URL."),
    N_("Not a valid date."),
    N_('"%(input)s" cannot be formatted as a date.'),
    N_("Not a valid datetime."),
    N_("Not a valid aware datetime."),
    N_('"%(input)s" cannot be formatted as a datetime.'),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be one of: %(choices)s."),
    N_("String does not match expected pattern."),
    # the registry's schemas (boas.registry.schemas, model_cards.schema, audits.schemas)
    N_("must be one of: %(choices)s (got '%(input)s')"),
    N_("must be one of: %(choices)s"),
    N_("must not be blank"),
    N_("must be a semantic version such as 1.0.0 or 2.1.0-rc.1"),
    N_("must be a file sent as a multipart file part, not a text field"),
    N_("is larger than %(max)s bytes"),
    N_("not valid JSON: %(json)s at line %(line)s column %(column)s"),
    N_("not valid JSON: a number is too long or the document is nested too deeply"),
    N_("not valid JSON: %(json)s"),
    N_("must be a JSON object"),
    N_("expected a JSON object"),
    N_("a JSON object is required"),
    N_("a number is too long or it is nested too deeply"),
    N_("must be a hexadecimal commit hash"),
    N_("an algorithm needs 1 to 100 owners"),
    N_("3 to 80 characters: lowercase letters, digits and hyphens, not starting or ending with '-'"),
    N_("lowercase letters, digits and hyphens, not starting or ending with '-'"),
    N_("the creating author owns the algorithm; add co-owners with PATCH"),
    N_("must be a DOI such as 10.1234/abcd"),
    N_("must not contain the NUL character"),
    N_("age_min must not be greater than age_max"),
    N_("period_start must not be after period_end"),
    N_("give both bounds of the confidence interval"),
    N_("ci_low must not be greater than value"),
    N_("ci_high must not be less than value"),
    N_("must be an ISO 639 language code"),
    N_("must be an SPDX license expression, e.g. Apache-2.0, MIT OR CECILL-2.1 (LicenseRef-<name> for custom terms)"),
    N_("not a valid SPDX license expression (%(detail)s): write e.g. MIT OR Apache-2.0"),
    N_("'%(license)s' is not a known SPDX license identifier (use LicenseRef-<name> for custom terms)"),
    N_("unbalanced parentheses"),
    N_("a bias audit needs the algorithm and version it audits"),
    N_("name at least one sensitive feature"),
    N_("a drift report compares a reference dataset with a current one"),
    N_("give both algorithm and version, or neither"),
    N_("a period in days needs every_days"),
    N_("every_days goes with the period 'days' only"),
    N_("must be after starts_at"),
    N_("a schedule ends within ten years of its start"),
    N_("required"),
    # accounts and algorithms
    N_("unknown organisation '%(organisation)s'"),
    N_("an admin cannot demote or deactivate their own account"),
    N_("must be between 1 and %(max)s"),
    N_("at least %(min)s characters"),
    N_("must not be your e-mail address"),
    N_("'%(email)s' is not an active author account"),
    N_("expected a SHA-256 in hex (64 characters 0-9, a-f)"),
    N_("expected a count of 0 or more"),
    # versions and their uploads
    N_("report %(report)s does not exist"),
    N_("report %(report)s is not a public report on algorithm '%(algorithm)s'"),
    N_("report %(report)s is on this very version"),
    N_("no version '%(version)s' to start from"),
    N_("an ml_model version carries an MLflow model in 'model', not a code archive"),
    N_("a rule_based version carries its code archive in 'code', not an MLflow model"),
    N_("the uploaded file is empty"),
    N_("larger than %(max)s bytes"),
    N_("serialised files would run %(names)s when loaded: refused"),
    N_("the MLmodel has no input signature: save the model with signature=infer_signature(X, ...) so that it is "
       "given only the columns it names"),
    N_("every input of the signature must be a named column (a DataFrame signature), not a bare tensor"),
    # archives (boas.registry.artifacts.archive_scan)
    N_("%(message)s (and %(count)s more problems)"),
    N_("archive could not be unpacked within %(seconds)s seconds"),
    N_("archive entry %(entry)s %(rule)s"),
    N_("declares %(size)s bytes, above the %(max)s byte file limit"),
    N_("exceeds the compression ratio limit of %(ratio)s (%(size)s from %(compressed)s)"),
    N_("exceeds the compression ratio limit of %(ratio)s"),
    N_("expands beyond the %(max)s byte file limit"),
    N_("has an empty name"),
    N_("contains a NUL byte in its name"),
    N_("contains a control character in its name"),
    N_("has a name that is not valid UTF-8"),
    N_("contains a backslash; only '/' separators are allowed"),
    N_("is an absolute path"),
    N_("has a name longer than %(max)s characters"),
    N_("escapes the model directory ('..' component)"),
    N_("has a path component longer than %(max)s bytes"),
    N_("duplicates %(other)s (same path after normalisation)"),
    N_("is inside %(other)s, which is a file"),
    N_("archive has more than %(max)s entries"),
    N_("archive declares more than %(max)s uncompressed bytes"),
    N_("archive contains no files"),
    N_("archive exceeds the compression ratio limit of %(ratio)s"),
    N_("archive exceeds the compression ratio limit of %(ratio)s (%(size)s bytes declared from %(compressed)s)"),
    N_("archive exceeds the compression ratio limit of %(ratio)s (%(size)s bytes from %(compressed)s)"),
    N_("archive exceeds the compression ratio limit of %(ratio)s (expands beyond %(size)s bytes from "
       "%(compressed)s)"),
    N_("archive exceeds the compression ratio limit of %(ratio)s (%(size)s bytes from the first %(compressed)s)"),
    N_("archive expands beyond the %(max)s byte total limit"),
    N_("archive stream expands beyond %(max)s bytes"),
    N_("archive has a header larger than %(max)s bytes (pax extended header or GNU long name)"),
    N_("uploaded file is not a zip or tar archive (zip, tar and tar.gz are accepted)"),
    N_("zip archive is corrupt or truncated (no central directory)"),
    N_("zip archive is corrupt or truncated: %(detail)s"),
    N_("tar archive is corrupt or truncated: %(detail)s"),
    N_("tar.gz archive is corrupt or truncated: %(detail)s"),
    N_("archive entry %(entry)s is corrupt or truncated: %(detail)s"),
    N_("is a symbolic link; links are not allowed"),
    N_("is a hard link; links are not allowed"),
    N_("is not a regular file or directory"),
    N_("is not a regular file or directory (device, FIFO or other)"),
    N_("is encrypted; encrypted archives are not accepted"),
    N_("uses unsupported compression method %(method)s (only stored and deflate)"),
    N_("is a directory carrying data"),
    N_("is a sparse file; sparse files are not allowed"),
    # MLflow models (boas.registry.artifacts.mlmodel)
    N_("MLmodel has no 'flavors' mapping"),
    N_("MLmodel flavor %(flavor)s is not a mapping"),
    N_("MLmodel saved_input_example_info is not a mapping"),
    N_("MLmodel must be a regular file, not a symbolic link"),
    N_("MLmodel file not found at the root of the archive"),
    N_("MLmodel is larger than %(max)s bytes"),
    N_("MLmodel is not valid UTF-8 text"),
    N_("MLmodel is not valid YAML at line %(line)s, column %(column)s: %(detail)s"),
    N_("MLmodel is not valid YAML: %(detail)s"),
    N_("MLmodel is nested too deeply"),
    N_("MLmodel must be a YAML mapping, not %(type)s"),
    N_("MLmodel is too complex (more than %(max)s values)"),
    N_("MLmodel %(key)s: %(value)s is an empty path"),
    N_("MLmodel %(key)s: %(value)s contains a NUL byte or backslash; only POSIX relative paths are allowed"),
    N_("MLmodel %(key)s: %(value)s is an absolute path; only paths inside the model directory are allowed"),
    N_("MLmodel %(key)s: %(value)s is a URI; only paths inside the model directory are allowed"),
    N_("MLmodel %(key)s: %(value)s escapes the model directory ('..' component)"),
    N_("MLmodel %(key)s: %(value)s resolves outside the model directory (symbolic link)"),
    N_("MLmodel %(key)s: %(value)s does not exist in the model directory"),
    N_("MLmodel signature is not a mapping"),
    N_("MLmodel signature.%(part)s is not valid JSON: %(detail)s"),
    N_("MLmodel signature.%(part)s must be a JSON list or object, not %(type)s"),
    N_("requirements.txt is larger than %(max)s bytes"),
    N_("requirements.txt is not valid UTF-8 text"),
    # reference datasets and predictions (audits.datasets, audits.tabular)
    N_("column '%(column)s' is not in the table"),
    N_("the file says it holds %(declared)s rows, but its column '%(column)s' holds %(rows)s"),
    N_("the label column must hold 0/1 outcomes"),
    N_("the label column has %(count)s missing values: every row needs its 0/1 outcome"),
    N_("column '%(column)s' has %(count)s missing values: code them as a level of their own (for example "
       "'inconnu') so that the audit reports them as a group"),
    N_("the row key has duplicate values"),
    N_("a '%(column)s' column identifying the dataset's rows is required"),
    N_("a 'prediction' column (0/1) is required"),
    N_("'%(column)s' has duplicate values"),
    N_("%(count)s dataset rows have no prediction"),
    N_("%(count)s predictions match no dataset row"),
    N_("'prediction' must be 0 or 1 on every row"),
    N_("'score' must be a probability in [0, 1] on every row"),
    N_("the file is named .parquet but is not Parquet"),
    N_("not UTF-8 text: %(detail)s"),
    N_("cannot be read as %(format)s: %(detail)s"),
    N_("the file cannot be read: %(detail)s"),
    N_("the table has no columns"),
    N_("the table has %(count)s columns; at most %(max)s"),
    N_("the table has no rows"),
    # the datasheet's HealthDCAT-AP part
    N_("the table has %(count)s rows: it cannot describe more people than that"),
    N_("not a Wikidata entity: use http://www.wikidata.org/entity/Q… (for example http://www.wikidata.org/entity/Q45127)"),
    N_("not a place IRI: use http://publications.europa.eu/resource/authority/country/FRA (or …/place/…, "
       "…/continent/…) or https://sws.geonames.org/<number>/"),
    N_("must be at least the minimum typical age"),
    N_("not a health category of the EHDS regulation (Art. 51): use one of %(choices)s"),
    N_("not a publisher type of HealthDCAT-AP: use one of %(choices)s"),
    # resumable uploads
    N_("not an upload id"),
    N_("must be the file's SHA-256 as 64 lowercase hexadecimal digits"),
    N_("declared %(declared)s, received %(received)s"),
    N_("a non-negative whole number is required"),
    N_("expected %(offset)s"),
    N_("opened for %(purpose)s"),
    N_("%(offset)s of %(size)s bytes received: send the rest first"),
    N_("no longer matches its digest"),
    N_("already used"),
    N_("does not match the chunk received"),
    N_("%(sent)s bytes sent, %(remaining)s remain"),
    N_("no such upload of yours (expired, aborted or used)"),
    N_("send the archive as a file or as an upload_id, not both"),
    N_("not with a file"),
    N_("not with an upload_id"),
    N_("at most %(count)s uploads at once"),
    N_("larger than %(max)s bytes: send smaller chunks"),
    N_("duplicate column names: %(names)s"),
    N_("every column needs a name in the header row"),
    # direct identifiers (audits.identifiers.screen.describe)
    N_("column '%(column)s' is refused as a direct identifier [%(detectors)s]: %(reasons)s"),
    N_("index '%(column)s' is refused as a direct identifier [%(detectors)s]: %(reasons)s"),
    N_("file metadata '%(column)s' is refused as a direct identifier [%(detectors)s]: %(reasons)s"),
    N_("its name matches '%(name)s' in the dictionary of identifying column names"),
    N_("its name itself looks like %(what)s"),
    N_("%(share)s of screened values look like %(what)s (%(detail)s)"),
    N_("%(share)s of screened values look like %(what)s"),
    N_("a few of screened values look like %(what)s (%(detail)s)"),
    N_("a few of screened values look like %(what)s"),
    N_("this text seems to contain a direct identifier [%(detectors)s]: %(what)s; write it without names, "
       "numbers or addresses of patients"),
    N_("a name from the dictionary of identifying column names"),
    N_("NIR (French social security numbers)"),
    N_("exact dates of birth"),
    N_("e-mail addresses"),
    N_("phone numbers"),
    N_("IBANs (checksum verified)"),
    N_("French RIB bank details (key verified)"),
    N_("postal addresses"),
    N_("long numeric identifiers, unique per row (IPP-like hospital numbers)"),
    N_("person names"),
    N_("nested values (lists or maps) that cannot be screened"),
    N_("values too long to be screened (over %(max)s characters)"),
    # audit launches (audits.service, audits.drift, audits.sandbox, audits.requests, audits.scheduling)
    N_("this dataset was uploaded by an owner of algorithm '%(algorithm)s' or a member of an organisation that "
       "owns it: an audit needs independent inputs"),
    N_("these predictions were uploaded by an owner of algorithm '%(algorithm)s' or a member of an organisation "
       "that owns it: an audit needs independent inputs"),
    N_("these predictions were uploaded for another version or dataset"),
    N_("not a column of the dataset: %(columns)s"),
    N_("this dataset declares no label column"),
    N_("this version has no MLflow model: upload its predictions and pass their id"),
    N_("this model carries code (see its execution reasons), so this instance never runs it: upload its "
       "predictions on the dataset and pass their id"),
    N_("not in both datasets: %(columns)s"),
    N_("must be a pandas DataFrame"),
    N_("has no rows"),
    N_("missing from the reference dataset: %(columns)s"),
    N_("missing from the current dataset: %(columns)s"),
    N_("no values in the reference dataset: %(columns)s"),
    N_("no values in the current dataset: %(columns)s"),
    N_("no column to compare"),
    N_("a column is listed twice"),
    N_("not among the compared columns: %(columns)s"),
    N_("must be in (0, 1]"),
    N_("more than %(max)s distinct values, each would appear in the report: %(columns)s"),
    N_("must be between 0 and 1"),
    N_("this version is withdrawn: request an audit of a current version"),
    N_("re-audits are scheduled for published versions"),
    # incident reports
    N_("required to approve a held report"),
    N_("required to approve a held answer"),
    N_("cannot go from %(old)s to %(new)s"),
    # datasets registered in place (registry_db.sources)
    N_("not enabled: the operator sets BOAS_DATASET_IMPORT_ROOTS or BOAS_DATASET_IMPORT_S3"),
    N_("required: file:<root>/<path> or s3://<bucket>/<key>"),
    N_("at most %(max)s characters"),
    N_("not an absolute path or file:// URL: use file:<root>/<path> or s3://<bucket>/<key>"),
    N_("no scheme: use file:<root>/<path> or s3://<bucket>/<key>"),
    N_("unsupported scheme, BOAS fetches no URL: use file:<root>/<path> or s3://<bucket>/<key>"),
    N_("no import root is configured: use s3://<bucket>/<key>"),
    N_("not under a configured root (its first part names the root, e.g. file:cohorts/2024/cohort.parquet)"),
    N_("empty parts, '.', '..', backslashes and control characters are refused"),
    N_("not UTF-8 text: unpaired surrogates are refused"),
    N_("not under a configured bucket and prefix"),
    N_("no such file"),
    N_("symbolic links are not followed"),
    N_("permission denied"),
    N_("cannot be opened"),
    N_("not a regular file (a directory, device or pipe)"),
    N_("has other hard links, which may be outside the root"),
    N_("no such object"),
    N_("access denied"),
)

# What Python's JSON decoder says (json.decoder, json.scanner), quoted by "not valid JSON" messages.
JSON_MESSAGES: tuple[str, ...] = (
    N_("Expecting value"),
    N_("Expecting ',' delimiter"),
    N_("Expecting ':' delimiter"),
    N_("Expecting property name enclosed in double quotes"),
    N_("Illegal trailing comma before end of object"),
    N_("Illegal trailing comma before end of array"),
    N_("Unterminated string starting at"),
    N_("Invalid control character at"),
    N_("Invalid \\escape"),
    N_("Invalid \\uXXXX escape"),
    N_("Extra data"),
)

OTHER_PROBLEMS = N_("Other problems")  # the summary's line for errors on no control of the form
ITEM = N_("item %(number)s")  # the n-th element of a list, counted from 1
ROW = N_("row %(number)s")  # the n-th row of a table of controls

# Placeholders that hold a sentence of their own (localised in turn), or a list of them and its separator.
SENTENCE_PARAMS = frozenset({"message", "rule", "detail", "json"})
LIST_PARAMS = {"reasons": "; ", "what": ", "}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")
_LOCALES = {"fr": "fr_FR", "en": "en_GB"}


@dataclass(frozen=True)
class _Template:
    msgid: str
    pattern: re.Pattern[str]
    literal: int  # characters of fixed text: the most specific template is tried first


def _template(msgid: str) -> _Template:
    parts = _PLACEHOLDER.split(msgid)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return _Template(msgid, re.compile(regex, re.S), sum(len(part) for part in parts[::2]))


@lru_cache(maxsize=1)
def _templates() -> tuple[tuple[str, ...], tuple[_Template, ...]]:
    """(exact messages, templates with placeholders, most specific first)."""
    every = MESSAGES + JSON_MESSAGES
    exact = tuple(m for m in every if not _PLACEHOLDER.search(m))
    parameterised = sorted((_template(m) for m in every if _PLACEHOLDER.search(m)), key=lambda t: -t.literal)
    return exact, tuple(parameterised)


def _data(value: str) -> Markup:
    return Markup('<span translate="no">{}</span>').format(value)


def _english(value: str) -> Markup:
    return Markup('<span lang="en">{}</span>').format(value)


class Localiser:
    """Service messages in one language: ``gettext`` of its catalogue, ``lang`` ("fr" or "en")."""

    def __init__(self, gettext: Gettext, lang: str):
        self.gettext, self.lang = gettext, lang if lang in _LOCALES else "en"

    def known(self, message: str) -> bool:
        """Whether a template reads this message (else it is shown as it came, marked English)."""
        return self._match(message) is not None

    def __call__(self, message: str | Markup) -> Markup:
        """One message in the page's language; a page's own message (already Markup) passes unchanged."""
        if isinstance(message, Markup):
            return message
        return self._localise(str(message))

    def _match(self, message: str) -> tuple[str, dict[str, str]] | None:
        exact, templates = _templates()
        if message in exact:
            return message, {}
        for template in templates:
            found = template.pattern.fullmatch(message)
            if found:
                return template.msgid, found.groupdict()
        return None

    def _localise(self, message: str) -> Markup:
        matched = self._match(message)
        if matched is None:
            return _english(message) if self.lang != "en" else escape(message)
        msgid, params = matched
        text = escape(self.gettext(msgid))
        if not params:
            return text
        return text % {name: self._param(name, value) for name, value in params.items()}

    def _param(self, name: str, value: str) -> Markup | str:
        if name in SENTENCE_PARAMS:
            return self._localise(value)
        if name in LIST_PARAMS:
            return escape(self._separator(LIST_PARAMS[name])).join(self._localise(part)
                                                                  for part in self._split(name, value))
        if len(value) <= 30 and _NUMBER.fullmatch(value):  # an echoed input of 5,000 digits is data, not a bound
            number = float(value) if any(c in value for c in ".eE") else int(value)
            if math.isfinite(number):
                return format_decimal(number, locale=_LOCALES[self.lang])
        if share := _PERCENT.fullmatch(value):
            return format_percent(float(share.group(1)) / 100, locale=_LOCALES[self.lang])
        return _data(value)

    def _separator(self, separator: str) -> str:
        return "\u202f; " if separator == "; " and self.lang == "fr" else separator

    @staticmethod
    def _split(name: str, value: str) -> list[str]:
        if name == "what":  # detector descriptions hold commas of their own: read them whole
            known = sorted(DETECTORS.values(), key=len, reverse=True)
            found = re.findall("|".join(re.escape(k) for k in known), value)
            return found if ", ".join(found) == value else [value]
        return value.split(LIST_PARAMS[name])


@dataclass(frozen=True)
class Field:
    """A form control as the error summary names it: its element id and its label in the page's language."""

    id: str
    label: str


@dataclass(frozen=True)
class SummaryItem:
    """One line of the error summary: a link to the control (None: no control), its label, the messages."""

    anchor: str | None
    label: str
    messages: tuple[Markup, ...]


class FormErrors(dict):
    """Localised messages by field key (each control reads its own), and the summary's lines in order.

    True when the summary has a line, even if no control has a message (an error on no control)."""

    summary_items: list[SummaryItem]

    def __init__(self, by_field: Mapping[str, list[Markup]] | None = None,
                 summary_items: Iterable[SummaryItem] = ()):
        super().__init__(by_field or {})
        self.summary_items = list(summary_items)

    def __bool__(self) -> bool:
        return bool(self.summary_items) or len(self) > 0


def localise_errors(errors: Mapping[str, list[str]], fields: Mapping[str, Field], localise: Localiser, *,
                    fold: Callable[[str], tuple[str | None, Markup | None]] | None = None) -> FormErrors:
    """Service errors as a form shows them: each key onto the control that edits it (``fields``), named
    by its label; a nested key (``labels.dep.value.fr``) joins its control with the rest of its path said
    before each message. ``fold(key)`` may choose the control and that rest itself. A key with no control
    (``_schema``, or a key the form has no control for) goes in the summary, without a link."""
    by_field: dict[str, list[Markup]] = {}
    items: dict[tuple[str | None, str], list[Markup]] = {}
    for key, messages in errors.items():
        control, rest = fold(key) if fold else control_of(key, fields, localise)
        field = fields.get(control) if control is not None else None
        if field is None and control is not None and not rest:
            rest = _data(control)
        shown = [Markup("{}{} {}").format(rest, _colon(localise), localise(m)) if rest else localise(m)
                 for m in messages]
        if field is None:
            items.setdefault((None, localise.gettext(OTHER_PROBLEMS)), []).extend(shown)
            continue
        assert control is not None
        by_field.setdefault(control, []).extend(shown)
        items.setdefault((field.id, field.label), []).extend(shown)
    return FormErrors(by_field, [SummaryItem(anchor, label, tuple(messages))
                                 for (anchor, label), messages in items.items()])


def _colon(localise: Localiser) -> str:
    return "\u00a0:" if localise.lang == "fr" else ":"


def control_of(key: str, fields: Mapping[str, Field], localise: Localiser) -> tuple[str | None, Markup | None]:
    """The longest field key a service key starts with, and the rest of the path in words."""
    matches = [name for name in fields if key == name or key.startswith(name + ".")]
    if not matches:
        return (None, None) if key == "_schema" else (key, None)
    name = max(matches, key=len)
    return name, path_words(key[len(name) + 1:].split("."), localise)


def path_words(parts: Iterable[str], localise: Localiser, *, row: str = ITEM,
               columns: Mapping[str, str] | None = None) -> Markup | None:
    """The rest of an error's path as a reader says it: ``2.value`` -> "item 3 › value" (the index counted
    from 1, a column by its header when ``columns`` names it, else as data); marshmallow's "key" and "value"
    levels of a mapping are left out."""
    words: list[Markup | str] = []
    for part in parts:
        if not part or part in ("value", "key"):
            continue
        if part.isdigit():
            words.append(escape(localise.gettext(row)) % {"number": int(part) + 1})
        elif columns and part in columns:
            words.append(columns[part])
        else:
            words.append(_data(part))
    return Markup(" › ").join(words) if words else None
