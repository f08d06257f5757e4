"""Every message a service can refuse a form with reads in French, through the catalogue (boas.pages.messages).

The messages are not listed by hand here: they are read out of the services' source (every string that goes
into a ValidationFailed's errors, a marshmallow ValidationError, a validator's ``error=``, a field's default
messages, an ``errors``/``problems``/``reasons`` list) and out of marshmallow itself (the default messages of
the field types and validators our schemas use, with their real bounds). A new message in a service, or a
new validator in a schema, fails here until the catalogue says it in French.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest
from babel.support import Translations
from marshmallow import Schema, fields, validate

import audits
import boas
import model_cards
import registry_db
from audits import schemas as audit_schemas
from boas.pages.messages import Localiser
from boas.registry import schemas as registry_schemas
from model_cards.schema import CardSchema
from tests.pages.french import english_in, typography_faults

ROOT = Path(boas.__file__).parent
SOURCES = [ROOT / "registry", Path(audits.__file__).parent, Path(model_cards.__file__).parent,
           Path(registry_db.__file__).parent]
CATALOG = ROOT / "translations"
MESSAGE_LISTS = {"errors", "problems", "reasons", "messages"}
HELPERS = {"_invalid": 1, "_fail": 1, "_too_large": 1, "refuse": 1}  # archive/model helpers: (field|raw, message)
# What an interpolated expression stands for, where a number would not do: enumerated words, sentences that
# are messages of their own, and text quoted from a library (shown as it came, marked English).
SAMPLES = {
    "name": ["reference", "current"], "subject": ["this dataset was", "these predictions were"],
    "kind": ["column", "index", "file metadata"], "share": ["45%", "a few"],
    "rule": ["has an empty name"], "what": ["person names", "e-mail addresses, phone numbers"],
    "'; '.join(reasons)": ["its name itself looks like person names"], "exc.msg": ["Expecting value"],
    "problem.rstrip('.')": ["unbalanced parentheses"], "detectors": ["nir, email"],
    "label": ["MLmodel flavors.sklearn.pickled_model: 'model.pkl'"], "at": ["", " at line 3, column 7"],
    "msg": ["declares 12 bytes, above the 12 byte file limit"], "'symbolic' if m.issym() else 'hard'": [
        "symbolic", "hard"], "fmt": ["csv", "parquet"],
    # keyed by file where one name means different things
    "archives.py:kind": ["tar", "tar.gz"],
    "schemas.py:detail": ["Expecting value at line 1 column 1", "a number is too long or the document is nested "
                          "too deeply"],
}
CODE = re.compile(r"[a-z]+(?:_[a-z]+)+")  # a reason's code (review_date_passed), not a sentence
FORMAT_FIELD = re.compile(r"\{(\w+)\}")  # a str.format field of a marshmallow message template
LIBRARY_TEXT = {"exc", "exc.reason", "str(exc)[:300]", "reason", "f.detail"}  # quoted from pandas, yaml, json...
SAMPLE_DEFAULT = "12"


def _strings(node: ast.AST | None) -> list[ast.AST]:
    """String literals and f-strings in an expression, dict keys left out (they are field keys)."""
    if node is None:
        return []
    if (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr):
        return [node]
    if isinstance(node, ast.Dict):
        return [s for value in node.values for s in _strings(value)]
    if isinstance(node, ast.DictComp):
        return _strings(node.value)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [s for item in node.elts for s in _strings(item)]
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return _strings(node.elt)
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "list":
        return [s for arg in node.args for s in _strings(arg)]
    return []


def _target_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Call)):
        if isinstance(node, ast.Attribute) and not isinstance(node.value, (ast.Subscript, ast.Call)):
            return node.attr if node.attr in MESSAGE_LISTS else _target_name(node.value)
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _messages_in(tree: ast.AST) -> list[ast.AST]:
    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            if func in ("ValidationFailed", "TooLarge", "Conflict"):
                errors = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "errors"), None)
                found += _strings(errors)
            elif func == "ValidationError":
                found += _strings(node.args[0] if node.args else None)
            elif func in HELPERS and len(node.args) > HELPERS[func]:
                found += _strings(node.args[HELPERS[func]])
            elif func in ("append", "extend") and _target_name(node.func) in MESSAGE_LISTS:
                found += [s for arg in node.args for s in _strings(arg)]
            found += [s for k in node.keywords if k.arg == "error" for s in _strings(k.value)]
        elif isinstance(node, ast.Assign):
            names = {_target_name(t) for t in node.targets} | {
                t.id for t in node.targets if isinstance(t, ast.Name)}
            if names & (MESSAGE_LISTS | {"default_error_messages", "DETECTORS", "LICENSE_ERROR"}):
                found += _strings(node.value)
        elif isinstance(node, ast.FunctionDef) and (node.name.endswith("_errors") or node.name == "check_license"):
            found += [s for ret in ast.walk(node) if isinstance(ret, ast.Return) for s in _strings(ret.value)]
    return found


def _sample(file: str, source: str) -> list[str]:
    return SAMPLES.get(f"{file}:{source}", SAMPLES.get(source, [SAMPLE_DEFAULT]))


def _samples(node: ast.AST, file: str) -> list[tuple[str, bool]]:
    """(message, quotes a library's text) for each way an f-string (or a format template) can be filled."""
    if isinstance(node, ast.Constant):
        names = FORMAT_FIELD.findall(node.value)
        return [(node.value.format(**dict(zip(names, combo, strict=True))), False)
                for combo in itertools.product(*(_sample(file, name) for name in names))]
    assert isinstance(node, ast.JoinedStr)
    choices: list[list[tuple[str, bool]]] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            choices.append([(value.value, False)])
        else:
            assert isinstance(value, ast.FormattedValue)
            source = ast.unparse(value.value)
            if source in LIBRARY_TEXT:
                choices.append([("some library words", True)])
            else:
                choices.append([(repr(sample) if value.conversion == ord("r") else sample, False)
                                for sample in _sample(file, source)])
    return [("".join(text for text, _lib in combo), any(lib for _text, lib in combo))
            for combo in itertools.product(*choices)]


def service_messages() -> dict[str, bool]:
    """Every message the services can put in a refusal, sampled: {message: quotes a library's text}."""
    out: dict[str, bool] = {}
    for source in SOURCES:
        for path in sorted(source.rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in _messages_in(ast.parse(path.read_text(encoding="utf-8"))):
                for message, library in _samples(node, path.name):
                    if message.strip() and not message.startswith((" ", ".")) and not CODE.fullmatch(message):
                        out[message] = out.get(message, False) or library
    return out


def _schema_fields(schema: Schema):
    for field in schema.fields.values():
        yield field
        if isinstance(field, fields.Nested):
            yield from _schema_fields(field.schema)
        for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                      getattr(field, "value_field", None)):
            if inner is not None:
                yield inner
                if isinstance(inner, fields.Nested):
                    yield from _schema_fields(inner.schema)


def marshmallow_messages() -> set[str]:
    """marshmallow's own messages for every field and validator of our input schemas, with their real bounds."""
    schemas = [CardSchema()] + [cls() for module in (registry_schemas, audit_schemas) for cls in vars(module).values()
                                if isinstance(cls, type) and issubclass(cls, Schema) and cls.__module__ ==
                                module.__name__]
    out = {Schema._default_error_messages["unknown"], Schema._default_error_messages["type"]}
    for schema in schemas:
        for field in _schema_fields(schema):
            for key, message in field.error_messages.items():
                owner = next(c for c in type(field).__mro__ if key in vars(c).get("default_error_messages", {}))
                if not owner.__module__.startswith("marshmallow"):
                    continue  # our own fields' messages are read from our source, above
                out.add(FORMAT_FIELD.sub(lambda f: {"obj_type": "datetime", "awareness": "aware"}.get(
                    f.group(1), "x"), message))
            for validator in field.validators:
                if isinstance(validator, validate.Length):
                    for args in ({"min": validator.min}, {"max": validator.max},
                                 {"min": validator.min, "max": validator.max}):
                        if all(v is not None for v in args.values()):
                            try:
                                validator(["x"] * (((args.get("min") or 0) - 1) if "min" in args else (
                                    args["max"] + 1)) if not isinstance(field, fields.String) else (
                                    "x" * (((args.get("min") or 0) - 1) if "min" in args else args["max"] + 1)))
                            except Exception as exc:  # noqa: BLE001 - the validator's own message is the point
                                out.update(exc.messages)  # type: ignore[attr-defined]
                elif isinstance(validator, validate.Range):
                    for probe in (float("-inf"), float("inf")):
                        try:
                            validator(probe)
                        except Exception as exc:  # noqa: BLE001
                            out.update(exc.messages)  # type: ignore[attr-defined]
                elif isinstance(validator, (validate.OneOf, validate.Regexp, validate.Email, validate.URL)):
                    out.add(validator._format_error("x"))
    return out


@pytest.fixture(scope="module")
def french() -> Localiser:
    return Localiser(Translations.load(str(CATALOG), ["fr"]).gettext, "fr")


def _page(html: str) -> str:
    return f"<html><body><p>{html}</p></body></html>"


def test_the_scan_finds_the_services_messages():
    found = service_messages()
    assert len(found) > 150  # the scan reads the services, not an empty tree
    for known in ("must not be blank", "the table has no rows", "report 12 does not exist",
                  "column '12' is not in the table", "archive entry '12' has an empty name",
                  "missing from the current dataset: 12", "an algorithm needs 1 to 100 owners"):
        assert known in found, known
    assert "Longer than maximum length 200." in marshmallow_messages()


@pytest.mark.parametrize("source", ["services", "marshmallow"])
def test_every_message_a_service_can_refuse_a_form_with_reads_in_french(french, source):
    messages = service_messages() if source == "services" else dict.fromkeys(marshmallow_messages(), False)
    unread, english, typography = [], [], []
    for message, library in sorted(messages.items()):
        html = str(french(message))
        if not french.known(message) or html == message or ('lang="en"' in html and not library):
            unread.append(message)
            continue
        english += [(message, text) for text in english_in(_page(html))]
        typography += [(message, text) for text in typography_faults(_page(html))]
    assert unread == [], f"{len(unread)} messages have no French: add them to boas/pages/messages.py"
    assert english == []
    assert typography == []


def test_numbers_and_quoted_names_follow_the_page_language(french):
    english = Localiser(lambda message: message, "en")
    assert str(french("Longer than maximum length 10000.")) == "Trop long\u00a0: 10\u202f000 caractères au plus."
    assert str(english("Longer than maximum length 10000.")) == "Longer than maximum length 10,000."
    quoted = str(french("column 'nom & prénom' is not in the table"))
    assert '<span translate="no">nom &amp; prénom</span>' in quoted  # data, escaped, never translated
    assert str(french("Must be greater than or equal to 0.01 and less than or equal to 0.9.")) == \
        "Doit être compris entre 0,01 et 0,9."


def test_a_message_no_template_reads_is_shown_as_it_came_marked_english(french):
    assert str(french("something <new>")) == '<span lang="en">something &lt;new&gt;</span>'
    assert str(Localiser(lambda message: message, "en")("something <new>")) == "something &lt;new&gt;"
    # a library's own words inside a known sentence stay English, marked, and the sentence is French
    html = str(french("cannot be read as csv: Error tokenizing data. C error"))
    assert html.startswith("Illisible au format") and '<span lang="en">Error tokenizing data. C error</span>' in html


def test_an_echoed_input_that_looks_like_a_number_is_data(french):
    """A refused choice echoes its input: 5,000 digits or 1e999 are quoted back, never parsed as a number."""
    for hostile in ("9" * 5000, "1e999"):
        html = str(french(f"must be one of: public, private (got '{hostile}')"))
        assert f'<span translate="no">{hostile}</span>' in html
