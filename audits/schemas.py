"""Input schemas of the audits capability (datasets, predictions, audit requests)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from audits import healthdcat
from audits.schedules import MAX_EVERY_DAYS, MAX_GRACE_DAYS, MAX_SPAN_DAYS, MIN_EVERY_DAYS, PERIODS
from boas.registry.schemas import File, choice, fits
from model_cards.schema import StrictSchema
from registry_db.models import Algorithm, AuditKind, ReferenceDataset, Version

MAX_ID = 2**31 - 1  # row ids are 32-bit integers on every backend


MAX_COUNT = 10**10  # people or records: beyond any health dataset, within every backend's integers


class WikidataEntity(fields.String):
    """A Wikidata entity IRI, written canonically (``http://www.wikidata.org/entity/Q…``, as HealthDCAT-AP's shapes
    require); the browser's ``https://www.wikidata.org/wiki/Q…`` is accepted. Anything else is refused."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        entity = healthdcat.wikidata_entity(text) if len(text) < 100 else None
        if entity is None:
            raise ValidationError("not a Wikidata entity: use http://www.wikidata.org/entity/Q… "
                                  "(for example http://www.wikidata.org/entity/Q45127)")
        return entity


class SpatialIri(fields.String):
    """A place as HealthDCAT-AP accepts it: an EU authority table's country, place or continent, or GeoNames."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if len(text) > 200 or not healthdcat.is_spatial(text):
            raise ValidationError("not a place IRI: use http://publications.europa.eu/resource/authority/country/FRA "
                                  "(or …/place/…, …/continent/…) or https://sws.geonames.org/<number>/")
        return text


class DatasheetSchema(StrictSchema):
    """Datasheets for Datasets (Gebru et al.), the parts an evaluator must state."""

    motivation = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    source = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    population = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    collection_period = fields.String(required=True, validate=validate.Length(min=1, max=200))
    preprocessing = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    coverage = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    access_conditions = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    labelling = fields.String(validate=validate.Length(max=5000))
    maintenance = fields.String(validate=validate.Length(max=2000))
    synthetic = fields.Boolean(load_default=False)
    # What HealthDCAT-AP (the EHDS catalogue profile) asks of a health dataset beyond the datasheet. Each is
    # optional here, so an upload never waits on the catalogue; the export names those still missing.
    health_categories = fields.List(fields.String(validate=validate.OneOf(
        list(healthdcat.HEALTH_CATEGORIES), error="not a health category of the EHDS regulation (Art. 51): use one "
        f"of {', '.join(healthdcat.HEALTH_CATEGORIES)}")), validate=validate.Length(max=len(healthdcat.HEALTH_CATEGORIES)),
        metadata={"description": "EHDS Art. 51 category codes: " + ", ".join(healthdcat.HEALTH_CATEGORIES)})
    health_themes = fields.List(WikidataEntity(), validate=validate.Length(max=30),
                                metadata={"description": "Wikidata entities, http://www.wikidata.org/entity/Q…"})
    coding_systems = fields.List(WikidataEntity(), validate=validate.Length(max=30),
                                 metadata={"description": "Wikidata entities of the coding systems used, e.g. "
                                           "http://www.wikidata.org/entity/Q45127 (ICD-10)"})
    keywords = fields.List(fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=30))
    spatial = fields.List(SpatialIri(), validate=validate.Length(max=30), metadata={
        "description": "places: http://publications.europa.eu/resource/authority/country/FRA (or place/, "
                       "continent/), or https://sws.geonames.org/<id>/"})
    min_typical_age = fields.Integer(strict=True, validate=validate.Range(min=0, max=healthdcat.MAX_AGE))
    max_typical_age = fields.Integer(strict=True, validate=validate.Range(min=0, max=healthdcat.MAX_AGE))
    unique_individuals = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_COUNT), metadata={
        "description": "people the table describes; published only from the disclosure threshold"})
    purpose = fields.String(validate=validate.Length(min=1, max=2000))
    provenance = fields.String(validate=validate.Length(min=1, max=5000))
    publisher_note = fields.String(validate=validate.Length(min=1, max=2000))
    publisher_type = fields.String(validate=validate.OneOf(
        list(healthdcat.PUBLISHER_TYPES), error="not a publisher type of HealthDCAT-AP: use one of "
        f"{', '.join(healthdcat.PUBLISHER_TYPES)}"), metadata={
        "description": "HealthDCAT-AP publisher type code: " + ", ".join(healthdcat.PUBLISHER_TYPES)})
    publisher_homepage = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=500))
    contact_email = fields.Email(validate=validate.Length(max=254), metadata={
        "description": "a functional mailbox of the publisher, published in the HealthDCAT-AP export"})
    trusted_data_holder = fields.Boolean(metadata={
        "description": "whether the publisher is a trusted health data holder (EHDS Art. 72)"})

    @validates_schema(skip_on_field_errors=False)  # reported with the other fields' errors, all at once
    def _ages(self, data: dict[str, Any], **_kwargs) -> None:
        low, high = data.get("min_typical_age"), data.get("max_typical_age")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            raise ValidationError({"max_typical_age": ["must be at least the minimum typical age"]})


class DatasetMetaSchema(StrictSchema):
    name = fields.String(required=True, validate=fits(ReferenceDataset.name, 1))
    label_column = fields.String(load_default=None, allow_none=True, validate=fits(ReferenceDataset.label_column))
    sensitive_columns = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list,
                                    validate=validate.Length(max=100))
    row_key = fields.String(load_default=None, allow_none=True, validate=fits(ReferenceDataset.row_key))
    datasheet = fields.Nested(DatasheetSchema, required=True)
    # Display names of columns, per language: {"sex": {"fr": "sexe", "en": "sex"}}; audit pages show them.
    labels = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=200)),
        values=fields.Dict(keys=fields.String(validate=validate.OneOf(["fr", "en"])),
                           values=fields.String(validate=validate.Length(min=1, max=200))),
        load_default=dict, validate=validate.Length(max=100))


class PredictionsMetaSchema(StrictSchema):
    dataset = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    algorithm = fields.String(required=True, validate=fits(Algorithm.slug))
    version = fields.String(required=True, validate=fits(Version.version))
    description = fields.String(load_default="", validate=validate.Length(max=2000))


class AuditRequestSchema(StrictSchema):
    kind = fields.String(required=True, validate=choice(AuditKind))
    algorithm = fields.String(load_default=None, allow_none=True, validate=fits(Algorithm.slug))
    version = fields.String(load_default=None, allow_none=True, validate=fits(Version.version))
    dataset = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_ID))
    current_dataset = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_ID))
    predictions = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_ID))
    sensitive_features = fields.List(fields.String(), load_default=list)
    intersections = fields.Boolean(load_default=False)
    threshold = fields.Float(load_default=0.5, validate=validate.Range(min=0, max=1))
    reference_group = fields.Dict(keys=fields.String(), values=fields.String(), load_default=None, allow_none=True,
                                  metadata={"description": (
        "Reference group per feature: {feature name or key: group label or key}. A label is the group as "
        "results show it (\"F\", \"F×Bretagne\"); when two values of a column print alike (the number 1 and "
        "the text \"1\") their labels are their JSON spellings, 1 and \"1\" with its quotes, so labels are "
        "unique within a feature. A key is the group's typed levels as compact JSON ({\"sex\":\"F\"}). "
        "By default the largest group.")})
    tolerance = fields.Float(load_default=0.2, validate=validate.Range(min=0.01, max=0.9))
    min_group_size = fields.Integer(load_default=30, validate=validate.Range(min=1, max=100_000))
    n_boot = fields.Integer(load_default=1000, validate=validate.Range(min=0, max=10_000), metadata={
        "description": "Bootstrap resamples for the between-groups extremes only; every other interval is closed-form."})
    seed = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))
    columns = fields.List(fields.String(), load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        if data["kind"] == "bias":
            if not data.get("algorithm") or not data.get("version"):
                errors["version"] = ["a bias audit needs the algorithm and version it audits"]
            if not data.get("sensitive_features"):
                errors["sensitive_features"] = ["name at least one sensitive feature"]
        if data["kind"] == "drift" and data.get("current_dataset") is None:
            errors["current_dataset"] = ["a drift report compares a reference dataset with a current one"]
        if bool(data.get("algorithm")) != bool(data.get("version")):
            errors.setdefault("version", []).append("give both algorithm and version, or neither")
        if errors:
            raise ValidationError(errors)


class TableUploadSchema(StrictSchema):
    """A dataset or predictions upload (multipart): the table, and its metadata as a JSON object."""

    file = File(metadata={"description": "CSV (UTF-8) or Parquet; or send upload_id instead"})
    upload_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{43}\Z", error="not an upload id"), metadata={
        "description": "instead of file: the id of your completed resumable upload (POST /uploads), opened for "
                       "this purpose; it is used up when the dataset or predictions are created"})
    metadata = fields.String(required=True, metadata={
        "description": "JSON object: DatasetMeta for a dataset, PredictionsMeta for predictions",
        "contentMediaType": "application/json"})


class DatasetImportSchema(StrictSchema):
    """A dataset registered in place (JSON): where the table already is, and its metadata."""

    source = fields.String(required=True, metadata={
        "description": "file:<root>/<path>, a file under a directory of BOAS_DATASET_IMPORT_ROOTS named by its last "
                       "component (file:cohorts/2024/cohort.parquet under /mnt/cohorts), or s3://<bucket>/<key> "
                       "under an entry of BOAS_DATASET_IMPORT_S3; no other scheme, no URL is fetched"})
    metadata = fields.Dict(required=True, metadata={"description": "JSON object described by the DatasetMeta schema"})


class ScheduleRequestSchema(StrictSchema):
    """A re-audit on a calendar: the audit request itself (the launch rules apply), and when to run it."""

    audit = fields.Nested(AuditRequestSchema, required=True, metadata={
        "description": "The audit request, exactly as POST /audits takes it; a bias audit names a published version."})
    period = fields.String(required=True, validate=validate.OneOf(PERIODS), metadata={
        "description": "monthly or quarterly (calendar months from starts_at), or days (every_days)"})
    every_days = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=MIN_EVERY_DAYS, max=MAX_EVERY_DAYS))
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "The first due slot (ISO 8601 with a time zone); by default now"})
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True)
    grace_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=MAX_GRACE_DAYS), metadata={
        "description": "Days a due run may take to succeed before the card shows 'to review'"})
    follow_latest = fields.Boolean(load_default=True, metadata={
        "description": "Each run audits the newest upload of the datasets' names (with the predictions uploaded "
                       "for it), so a refreshed extraction is re-audited; false: the same rows every time"})

    @validates_schema
    def _calendar(self, data: dict[str, Any], **_kwargs) -> None:
        errors: dict[str, list[str]] = {}
        if data["period"] == "days" and data.get("every_days") is None:
            errors["every_days"] = ["a period in days needs every_days"]
        if data["period"] != "days" and data.get("every_days") is not None:
            errors["every_days"] = ["every_days goes with the period 'days' only"]
        start, end = data.get("starts_at"), data.get("ends_at")
        if start is not None and end is not None:
            if end <= start:
                errors["ends_at"] = ["must be after starts_at"]
            elif (end - start).days > MAX_SPAN_DAYS:
                errors["ends_at"] = ["a schedule ends within ten years of its start"]
        if errors:
            raise ValidationError(errors)


MESSAGE_MAX = 2000  # characters of a request's message or a decline's reason


class AuditRequestCreateSchema(StrictSchema):
    """An owner's request for an audit: an optional message to the evaluators, screened for identifiers."""

    message = fields.String(load_default="", validate=validate.Length(max=MESSAGE_MAX))


class AuditRequestDeclineSchema(StrictSchema):
    """Why an evaluator declines a request: required, shown to the owners, screened for identifiers."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=MESSAGE_MAX))
