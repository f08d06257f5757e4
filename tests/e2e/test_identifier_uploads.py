"""Identifier screening through the API: every evasion refused in one 422, nothing kept; ordinary data accepted."""

from __future__ import annotations

import io
import json
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audits.synth import generate_cohort
from tests.audits.test_identifiers import BIRTHS, full_names, iban_fr, nir, realistic_cohort
from tests.e2e.test_audits_api import DATASHEET, _rule_based_version
from tests.e2e.test_versions_api import assert_error

N = 300

# column -> (values, the detector the message must name)
EVASIONS = {
    "code": ([nir(i, sep="-") for i in range(N)], "nir"),
    "montant": ([float(nir(i)) for i in range(N)], "nir"),
    "patient": (full_names(N), "person_name"),
    "NomNaissance": (["Durand", "Martin", "Lefebvre"] * (N // 3), "column_name"),
    "given": (["Marie", "Jean", "Sophie"] * (N // 3), "person_name"),
    "jour": ([b.strftime("%Y-%m-%dT00:00:00") for b in BIRTHS[:N]], "date_of_birth"),
    "jour2": ([b.strftime("%d.%m.%Y") for b in BIRTHS[:N]], "date_of_birth"),
    "jour3": ([int(b.strftime("%Y%m%d")) for b in BIRTHS[:N]], "date_of_birth"),
    "contact": ([f"06/12/34/{i // 100 + 10}/{i % 100:02d}" for i in range(N)], "phone"),
    "contact2": ([612345678 + 7919 * i for i in range(N)], "phone"),
    "lieu": ([f"{1 + i % 90} avenue Jean Jaurès, 69007 Lyon" for i in range(N)], "postal_address"),
    "ref": ([4_000_000_000 + 104_729 * i for i in range(N)], "long_identifier"),
    "compte": ([iban_fr(i) for i in range(N)], "iban"),
    "\uff4e\uff4f\uff4d": (["x"] * N, "column_name"),
    "tel ": (["x"] * N, "column_name"),
    unicodedata.normalize("NFD", "prénom"): (["x"] * N, "column_name"),
}


def _metadata(**overrides) -> str:
    return json.dumps({"name": "Cohorte", "label_column": "outcome", "sensitive_columns": ["sex", "region"],
                       "row_key": "row_id", "datasheet": DATASHEET, **overrides})


def _post(client, headers, payload: bytes, filename: str, **meta):
    return client.post("/api/v1/datasets", headers=headers, content_type="multipart/form-data",
                       data={"file": (io.BytesIO(payload), filename), "metadata": _metadata(**meta)})


def _stored_files(live) -> list:
    data_dir = live.extensions["boas"].settings.data_dir
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()] if (data_dir / "blobs").exists() else []


def test_every_evasion_is_refused_in_one_422_naming_column_and_detector(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = generate_cohort(N, seed=21).assign(**{column: values for column, (values, _) in EVASIONS.items()})
    for payload, filename in ((frame.to_csv(index=False, sep=";").encode(), "cohort.csv"),
                              (_parquet(frame), "cohort.parquet")):
        body = assert_error(_post(live_client, evaluator, payload, filename), 422, "validation_failed")
        messages = body["errors"]["file"]
        assert len(messages) == len(EVASIONS)  # one message per refused column, and no other column
        for column, (_, detector) in EVASIONS.items():
            [message] = [m for m in messages if m.startswith(f"column '{column}' ")]
            assert detector in message
        assert not [m for m in messages if "Durand" in m or nir(1, sep="-") in m]  # names columns, never values
    assert _stored_files(live) == []
    assert live_client.get("/api/v1/datasets", headers=evaluator).get_json() == []


def test_the_realistic_cohort_is_accepted_as_csv_and_as_typed_parquet(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = realistic_cohort(3000, seed=22)
    csv = _post(live_client, evaluator, frame.to_csv(index=False, sep=";").encode(), "cohort.csv")
    assert csv.status_code == 201, csv.get_json()
    parquet = _post(live_client, evaluator, _parquet(frame), "cohort.parquet", name="Cohorte parquet")
    assert parquet.status_code == 201, parquet.get_json()
    assert len(_stored_files(live)) == 2


def test_a_pseudonymous_row_key_is_accepted_and_a_hospital_number_is_not(live_client, live_account):
    _, evaluator = live_account("evaluator")
    rng = np.random.default_rng(23)
    frame = generate_cohort(N, seed=23).drop(columns="row_id")
    hashed = frame.assign(patient_id=[f"{k:016x}{j:016x}" for k, j in rng.integers(0, 2**63, (N, 2))])
    accepted = _post(live_client, evaluator, hashed.to_csv(index=False).encode(), "k.csv", row_key="patient_id")
    assert accepted.status_code == 201, accepted.get_json()
    ipp = frame.assign(patient_id=[4_000_000_000 + 104_729 * i for i in range(N)])
    body = assert_error(_post(live_client, evaluator, ipp.to_csv(index=False).encode(), "k.csv", row_key="patient_id"),
                        422)
    assert body["errors"]["file"] == [
        "column 'patient_id' is refused as a direct identifier [long_identifier]: 100% of screened values look like "
        "long numeric identifiers, unique per row (IPP-like hospital numbers) (a declared row key must be row "
        "numbers or a non-numeric pseudonym)"]


def test_parquet_metadata_and_a_stored_index_cannot_smuggle_identifiers(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    frame = generate_cohort(N, seed=24)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
        {"notes": json.dumps([nir(i, sep=" ") for i in range(30)])})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    body = assert_error(_post(live_client, evaluator, buffer.getvalue(), "c.parquet"), 422)
    assert [m for m in body["errors"]["file"] if m.startswith("file metadata 'notes' ") and "[nir" in m]
    indexed = _parquet(frame.assign(nom=full_names(N)).set_index("nom"), index=True)
    body = assert_error(_post(live_client, evaluator, indexed, "c.parquet"), 422)
    assert [m for m in body["errors"]["file"] if m.startswith("index 'nom' ") and "person_name" in m]
    assert _stored_files(live) == []


def test_predictions_cannot_carry_identifier_columns(live_client, live_account, live):
    _, evaluator = live_account("evaluator")
    _, author = live_account("author")
    slug = _rule_based_version(live_client, author)
    frame = generate_cohort(N, seed=25)
    dataset = _post(live_client, evaluator, frame.to_csv(index=False).encode(), "c.csv").get_json()
    predictions = frame[["row_id", "prediction"]].assign(score=frame["risk_score"], email=[
        f"patient{i}@example.fr" for i in range(N)], commentaire="RAS")

    def upload(table: pd.DataFrame):
        return live_client.post("/api/v1/predictions", headers=evaluator, content_type="multipart/form-data", data={
            "file": (io.BytesIO(table.to_csv(index=False).encode()), "p.csv"),
            "metadata": json.dumps({"dataset": dataset["id"], "algorithm": slug, "version": "1.0.0"})})

    body = assert_error(upload(predictions), 422)
    assert len(body["errors"]["file"]) == 1 and body["errors"]["file"][0].startswith("column 'email' ")
    assert "[column_name, email]" in body["errors"]["file"][0]
    short = predictions.iloc[:-5].assign(nir=[nir(i) for i in range(N - 5)])  # both problems, one answer
    messages = assert_error(upload(short), 422)["errors"]["file"]
    assert any(m.startswith("column 'nir' ") for m in messages) and "5 dataset rows have no prediction" in messages
    blobs_before = len(_stored_files(live))
    accepted = upload(predictions.drop(columns="email"))
    assert accepted.status_code == 201, accepted.get_json()
    assert len(_stored_files(live)) == blobs_before + 1


def _parquet(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=index)
    return buffer.getvalue()
