"""The author-written model card: one marshmallow definition validates drafts and generates the JSON Schema.

Every field is optional here because drafts are partial; what a publishable card must carry is the
quality baseline's job (``model_cards.baseline``). Free text is Markdown, rendered and sanitised by
``model_cards.render``. Structured fields are the ones a machine reads: vocabularies, numbers, dates.
"""

from __future__ import annotations

import copy
import functools
import numbers
from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from model_cards import taxonomy
from model_cards.prefill import prefill_from_mlmodel
from model_cards.vocabularies import CARD_VOCABULARIES
from registry_db.errors import ValidationFailed, flatten_errors

__all__ = [
    "CARD_SCHEMA_ID",
    "CARD_SCHEMA_VERSION",
    "CARD_VOCABULARIES",
    "CardSchema",
    "StrictSchema",
    "TextInputSchema",
    "card_json_schema",
    "prefill_from_mlmodel",
    "validate_card",
]

CARD_SCHEMA_VERSION = "1.0"
CARD_SCHEMA_ID = f"https://boas.example/schemas/model-card-{CARD_SCHEMA_VERSION}.json"
TEXT_MAX = 20_000  # a Markdown section
LINE_MAX = 500  # a one-line value
LIST_MAX = 500

_DOI_CHECK = validate.Regexp(r"^10\.[0-9]{4,9}/\S+$", error="must be a DOI such as 10.1234/abcd")


class _StrictNumber(fields.Float):
    """A JSON number: refuses strings and booleans that marshmallow would otherwise cast."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class _StrictInteger(fields.Integer):
    """A JSON integer: refuses strings, booleans and non-integral numbers."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class _StrictBoolean(fields.Boolean):
    """A JSON boolean: refuses "yes", 1 and the other values marshmallow would cast."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _md(max_len: int = TEXT_MAX) -> fields.String:
    return fields.String(validate=validate.Length(max=max_len), metadata={"x-markdown": True})


def _line(max_len: int = LINE_MAX, *checks: validate.Validator, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(max=max_len), *checks], **kwargs)


def _choice(vocabulary: dict[str, Any]) -> fields.String:
    return fields.String(validate=validate.OneOf(list(vocabulary), error="must be one of: {choices}"))


def _lines(max_items: int = LIST_MAX, max_len: int = LINE_MAX, **kwargs: Any) -> fields.List:
    return fields.List(_line(max_len), validate=validate.Length(max=max_items), **kwargs)


def _many(schema: type[Schema], max_items: int = LIST_MAX) -> fields.List:
    return fields.List(fields.Nested(schema), validate=validate.Length(max=max_items))


def _date() -> fields.Date:
    return fields.Date(format="iso")


def _order(data: dict[str, Any], low: str, high: str, message: str) -> None:
    if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
        raise ValidationError(message, low)


def _nul_paths(value: Any, path: str = "") -> list[str]:
    """Where a NUL character hides in a JSON-like value (keys included): no text column can store one."""
    if isinstance(value, str):
        return [path or "_schema"] if "\x00" in value else []
    if isinstance(value, Mapping):
        found = []
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            found += [sub] if isinstance(key, str) and "\x00" in key else _nul_paths(item, sub)
        return found
    if isinstance(value, list | tuple):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, f"{path}.{i}" if path else str(i))]
    return []


class TextInputSchema(Schema):
    """Refuses the NUL character anywhere in the input (PostgreSQL text cannot hold it; nothing needs it)."""

    @pre_load
    def _no_nul(self, data: Any, **_kwargs: Any) -> Any:
        if paths := _nul_paths(data if isinstance(data, Mapping) else {}):
            raise ValidationError({path: ["must not contain the NUL character"] for path in paths})
        return data


class StrictSchema(TextInputSchema):
    """Unknown fields are errors, not silently dropped: the base of every input schema in BOAS."""

    class Meta:
        unknown = RAISE


class IntendedUseSchema(StrictSchema):
    """What the algorithm is for, for whom, and what it must not be used for."""

    primary_uses = _md()
    primary_users = _md()
    out_of_scope_uses = _md()
    decision_role = _choice(CARD_VOCABULARIES["decision_role"])
    instructions = _md()


class IntendedPopulationSchema(StrictSchema):
    """The patients the algorithm applies to, and the care setting."""

    age_min = _StrictInteger(validate=validate.Range(min=0, max=130))
    age_max = _StrictInteger(validate=validate.Range(min=0, max=130))
    sex = _choice(CARD_VOCABULARIES["sex"])
    setting = _choice(CARD_VOCABULARIES["setting"])
    geography = _line()
    description = _md()

    @validates_schema
    def _age_range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _order(data, "age_min", "age_max", "age_min must not be greater than age_max")


class SensitiveAttributeSchema(StrictSchema):
    """A sensitive attribute (sex, age band, region, deprivation...) and whether the model reads it."""

    name = _line(200, required=True)
    used_as_input = _StrictBoolean()
    groups = _lines(100, 200)
    rationale = _md()


class TrainingDataSchema(StrictSchema):
    """Provenance and content of the development data."""

    name = _line(200)
    source = _choice(taxonomy.VOCABULARIES["data_source"])
    description = _md()
    period_start = _date()
    period_end = _date()
    size = _StrictInteger(validate=validate.Range(min=0))
    inclusion_criteria = _md()
    exclusion_criteria = _md()
    label_definition = _md()
    preprocessing = _md()
    extraction = _md()
    missing_data = _md()
    class_imbalance = _md()
    representativeness = _md()

    @validates_schema
    def _period(self, data: dict[str, Any], **_kwargs: Any) -> None:
        _order(data, "period_start", "period_end", "period_start must not be after period_end")


class ModelDetailsSchema(StrictSchema):
    """Who built the model, how, and what changed since the previous version."""

    model_type = _line()
    architecture = _md()
    hyperparameters = fields.Dict(keys=fields.String(validate=validate.Length(max=200)), values=fields.Raw())
    developers = _lines(100, 200)
    contact = fields.Email(validate=validate.Length(max=254))
    release_date = _date()
    change_summary = _md()


class PerformanceMetricSchema(StrictSchema):
    """One performance measure, with its confidence interval when known."""

    name = _line(200, required=True)
    value = _StrictNumber(required=True)
    ci_low = _StrictNumber()
    ci_high = _StrictNumber()
    level = _StrictNumber(
        validate=validate.Range(min=0, max=1, min_inclusive=False, max_inclusive=False),
        metadata={"exclusiveMinimum": 0, "exclusiveMaximum": 1},  # apispec renders Range as inclusive
    )
    dataset = _line(200)
    subgroup = _line(200)
    evaluation_data = _choice(CARD_VOCABULARIES["evaluation_data"])
    category = _choice(CARD_VOCABULARIES["metric_category"])

    @validates_schema
    def _interval(self, data: dict[str, Any], **_kwargs: Any) -> None:
        low, value, high = data.get("ci_low"), data.get("value"), data.get("ci_high")
        errors: dict[str, list[str]] = {}
        if (low is None) != (high is None):
            errors["ci_low" if low is None else "ci_high"] = ["give both bounds of the confidence interval"]
        if low is not None and value is not None and low > value:
            errors.setdefault("ci_low", []).append("ci_low must not be greater than value")
        if high is not None and value is not None and value > high:
            errors.setdefault("ci_high", []).append("ci_high must not be less than value")
        if errors:
            raise ValidationError(errors)


class IOFieldSchema(StrictSchema):
    """One input feature or output column."""

    name = _line(200)
    type = _line(200)
    description = _md(2000)
    required = _StrictBoolean()


class InputOutputSchema(StrictSchema):
    """What the algorithm reads and what it produces."""

    inputs = _many(IOFieldSchema, 5000)
    outputs = _many(IOFieldSchema, 5000)
    output_description = _md()
    output_type = _choice(CARD_VOCABULARIES["output_type"])


class ValidationSchema(StrictSchema):
    """How performance was assessed, by whom, on which data."""

    type = _choice(CARD_VOCABULARIES["validation_type"])
    performed_by = _line()
    dataset = _line()
    protocol = _md()
    representativeness = _md()
    metrics_rationale = _md()
    publication_doi = _line(200, _DOI_CHECK)
    publication_url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=LINE_MAX))


class MaintenanceSchema(StrictSchema):
    """How the algorithm is kept valid over time."""

    schedule = _line()
    # The declared review: the card shows "to review" once this date has passed (audits.scheduling).
    next_review = fields.Date(format="iso", metadata={"description": "date by which the card is next reviewed"})
    review_interval_months = fields.Integer(
        validate=validate.Range(min=1, max=60),
        metadata={"description": "months between reviews of the card and the algorithm"},
    )
    update_policy = _md()
    monitoring = _md()
    fairness_monitoring = _md()
    expected_lifetime = _line()
    contact = fields.Email(validate=validate.Length(max=254))


class DependenciesSchema(StrictSchema):
    """What it takes to run the algorithm."""

    runtime = _lines(1000)
    hardware = _md(2000)


class RegulatorySchema(StrictSchema):
    """Regulatory status as declared by the authors."""

    status = _choice(CARD_VOCABULARIES["regulatory_status"])
    risk_class = _line(200)
    standards = _lines(100)
    notes = _md()


class ReferenceSchema(StrictSchema):
    """A publication, protocol, registration or evaluation about the algorithm."""

    title = _line(required=True)
    url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=LINE_MAX))
    doi = _line(200, _DOI_CHECK)
    kind = _choice(CARD_VOCABULARIES["reference_kind"])


class DerivedSchema(StrictSchema):
    """Which card fields were filled from the uploaded artifact rather than declared by the authors."""

    source = fields.String(required=True, validate=validate.OneOf(["mlflow"]))
    filled_fields = _lines(200, 200, data_key="fields")  # "fields" would shadow Schema.fields
    mlflow_version = _line(100)
    run_id = _line(100)
    model_uuid = _line(100)


class CardSchema(StrictSchema):
    """A BOAS model card: the four pillars of the national quality baseline and Mitchell et al.'s sections."""

    language = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z]{2,3}$", error="must be an ISO 639 language code")),
        validate=validate.Length(max=20),
    )
    keywords = _lines(50, 100)
    intended_use = fields.Nested(IntendedUseSchema)
    intended_population = fields.Nested(IntendedPopulationSchema)
    sensitive_attributes = _many(SensitiveAttributeSchema, 50)
    training_data = fields.Nested(TrainingDataSchema)
    model_details = fields.Nested(ModelDetailsSchema)
    performance_metrics = _many(PerformanceMetricSchema)
    input_output = fields.Nested(InputOutputSchema)
    validation = fields.Nested(ValidationSchema)
    limitations = _md()
    bias_mitigations = _md()
    ethical_considerations = _md()
    caveats_recommendations = _md()
    risk_management = _md()
    human_oversight = _md()
    security = _md()
    patient_public_involvement = _md()
    funding = _md(2000)
    conflicts_of_interest = _md(2000)
    maintenance = fields.Nested(MaintenanceSchema)
    dependencies = fields.Nested(DependenciesSchema)
    regulatory = fields.Nested(RegulatorySchema)
    references = _many(ReferenceSchema, 200)
    derived = fields.Nested(DerivedSchema)


def validate_card(card: dict[str, Any]) -> dict[str, Any]:
    """Check a card and return it normalised as JSON values; every error at once as a ValidationFailed."""
    if not isinstance(card, dict):
        raise ValidationFailed("the model card is invalid", {"_schema": ["expected a JSON object"]})
    schema = CardSchema()
    try:
        loaded = schema.load(card)
    except ValidationError as exc:
        raise ValidationFailed("the model card is invalid", flatten_errors(exc.messages)) from exc
    return schema.dump(loaded)


def card_json_schema() -> dict[str, Any]:
    """The card's JSON Schema (draft 2020-12), generated from CardSchema so the two cannot drift apart."""
    return copy.deepcopy(_generated_json_schema())


@functools.lru_cache(maxsize=1)
def _generated_json_schema() -> dict[str, Any]:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin
    from apispec.ext.marshmallow.common import resolve_schema_cls

    classes: dict[str, type[Schema]] = {}

    def name_of(schema: Any) -> str:
        cls = resolve_schema_cls(schema)
        cls = cls[0] if isinstance(cls, list) else cls
        name = cls.__name__.removesuffix("Schema")
        classes[name] = cls
        return name

    spec = APISpec("BOAS model card", CARD_SCHEMA_VERSION, "3.1.0", plugins=[MarshmallowPlugin(name_of)])
    spec.components.schema("Card", schema=CardSchema)
    defs = _rewrite(copy.deepcopy(spec.to_dict()["components"]["schemas"]))
    for name, definition in defs.items():
        doc = classes[name].__doc__ if name in classes else None
        if doc:
            definition["description"] = doc.strip()
    root = defs.pop("Card")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": CARD_SCHEMA_ID,
        "title": f"BOAS model card {CARD_SCHEMA_VERSION}",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def _rewrite(node: Any) -> Any:
    """OpenAPI component refs become ``$defs`` refs; the Markdown marker becomes a JSON Schema annotation."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = value.replace("#/components/schemas/", "#/$defs/")
            elif key == "x-markdown":
                out["contentMediaType"] = "text/markdown"
            else:
                out[key] = _rewrite(value)
        return out
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    return node
