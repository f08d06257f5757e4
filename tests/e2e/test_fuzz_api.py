"""Fuzzing from the contract: Schemathesis reads /api/v1/openapi.json and calls the WSGI app directly.

On a fresh migrated database of each backend, seeded with a published and a draft version, a dataset,
predictions and a queued audit, every operation gets generated requests (valid and invalid by the document)
from the author, the evaluator, the admin and the anonymous public; then Schemathesis chains operations
through the links it infers from the document (stateful). The checks: no 5xx, every status documented,
every content type documented, every body valid against its documented schema.

Cases per operation: 200 on SQLite and 50 on PostgreSQL (``BOAS_FUZZ_CASES`` overrides both). The run is
derandomized, so CI replays the same cases and a failure reproduces.
"""

from __future__ import annotations

import collections
import io
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from audits import incidents
from boas.registry import accounts, algorithms, lifecycle, uploads, versions
from boas.registry.storage import Upload
from registry_db.errors import Unauthenticated
from registry_db.models import utcnow
from tests.conftest import BACKENDS
from tests.factories import algorithm_payload, example_card_json
from tests.pages.conftest import committed_app
from tests.pages.content import bias_audit

pytestmark = pytest.mark.slow

CASES = {"sqlite": 200, "postgresql": 50}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
IDENTITIES = ("author", "evaluator", "admin", None)  # None: the anonymous public
STATEFUL_SCENARIOS = {"sqlite": 30, "postgresql": 12}


@dataclass
class Target:
    """The app under test, its identities and the objects seeded so generated paths can hit real rows."""

    app: object
    backend: str
    emails: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    known: dict[str, list] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def heal(self) -> None:
        """Undo what a generated call may have done to the identities: a role, a deactivation, a revoked token.

        The admin's token first (an admin may revoke its own, but cannot demote or deactivate itself), then
        the others' role and state, then their tokens (a role change may end them).
        """
        with self.app.extensions["boas"].session_factory() as s:
            self._token(s, "admin")
            admin = accounts.authenticate_token(s, self.tokens["admin"])
            for user in accounts.list_users(s, admin):
                role = next((r for r, email in self.emails.items() if email == user.email), None)
                if role and (user.role.value != role or not user.active):
                    accounts.update_user(s, admin, user.id, role=role, active=True)
            for role in self.emails:
                self._token(s, role)

    def _token(self, s, role: str) -> None:
        try:
            accounts.authenticate_token(s, self.tokens[role])
        except Unauthenticated:
            self.tokens[role] = accounts.create_token(s, None, user_email=self.emails[role], bootstrap=True).secret


@pytest.fixture(scope="module", params=BACKENDS)
def target(request, tmp_path_factory, model_zip):
    app, close = committed_app(tmp_path_factory.mktemp("fuzz"), request.param, immediate_jobs=False)
    runtime = app.extensions["boas"]
    fuzz = Target(app=app, backend=request.param)
    with runtime.session_factory() as s:
        org = f"labo-{uuid.uuid4().hex[:6]}"
        accounts.create_organisation(s, None, slug=org, name="Laboratoire", kind="research_body", bootstrap=True)
        users = {}
        for role in ("author", "evaluator", "admin"):
            email = f"{role}-{uuid.uuid4().hex[:6]}@example.org"
            # The evaluator is independent of the algorithms it audits: no organisation in common.
            users[role] = accounts.create_user(s, None, email=email, role=role, name=role.title(),
                                               organisation_slug=None if role == "evaluator" else org, bootstrap=True)
            fuzz.emails[role] = email
            fuzz.tokens[role] = accounts.create_token(s, None, user_email=email, bootstrap=True).secret
        other = accounts.create_user(s, None, email=f"other-{uuid.uuid4().hex[:6]}@example.org", role="author",
                                     bootstrap=True)
        ml = algorithms.create_algorithm(s, users["author"], algorithm_payload())
        rule = algorithms.create_algorithm(s, users["author"], algorithm_payload(kind="rule_based"))
        for version in ("1.0.0", "1.1.0"):
            versions.create_version(s, users["author"], runtime.storage, ml.slug, version=version,
                                    card_json=example_card_json(), model=Upload(io.BytesIO(model_zip), "model.zip"))
            lifecycle.publish_version(s, users["author"], runtime.policy, ml.slug, version)
        versions.create_version(s, users["author"], runtime.storage, ml.slug, version="2.0.0-rc.1",
                                card_json="", model=Upload(io.BytesIO(model_zip), "model.zip"))
        versions.create_version(s, users["author"], runtime.storage, rule.slug, version="1.0.0", card_json="")
        job_id, dataset_id, _predictions, _small = bias_audit(app, s, users["evaluator"], ml.slug, "1.0.0",
                                                                rows=300, run=False)
        report = incidents.file_report(s, users["evaluator"], ml.slug, "1.0.0", {
            "kind": "performance", "title": "Calibration", "body": "Too low above 75 years."}).report
        incidents.moderate_report(s, users["admin"], report.id, {"decision": "approve"})
        answer_id = incidents.answer_report(s, users["author"], report.id, {"body": "Fixed in 1.1.0."}).answer_id
        opened = [uploads.open_upload(s, users[role], runtime.storage, {"size": 10**6, "sha256": "a" * 64,
                                                                        "purpose": purpose}, now=utcnow()).token
                  for role, purpose in (("evaluator", "dataset"), ("evaluator", "predictions"), ("author", "version"))]
        fuzz.known = {"slug": [ml.slug, rule.slug], "version": ["1.0.0", "1.1.0", "2.0.0-rc.1"], "token": opened,
                      "user_id": [other.id], "dataset_id": [dataset_id], "job_id": [job_id],
                      "report_id": [report.id], "answer_id": [answer_id],
                      "path": ["MLmodel", "model.pkl", "requirements.txt"], "name": ["card.json", "CITATION.cff"]}
    yield fuzz
    close()


def _has_inputs(operation) -> bool:
    definition = operation.definition.raw
    return bool(definition.get("parameters") or operation.path_parameters or definition.get("requestBody")
                or definition.get("security"))


def _strategy(operation, known: dict[str, list]):
    """Valid and invalid requests by the document, half of the valid ones on seeded rows."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in known for name in names):
        strategies.append(st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names}).flatmap(
            lambda values: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=values)))
    return st.one_of(strategies)


SHARDS = 4  # the operations are fuzzed in shards, so that parallel test workers share the work


def test_the_document_lists_every_operation(target):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", target.app)
    assert len([result.ok() for result in schema.get_all_operations()]) >= 38


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_operation_answers_as_documented_under_fuzzing(target, shard):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", target.app)
    wanted = int(os.environ.get("BOAS_FUZZ_CASES", CASES[target.backend]))
    counts: collections.Counter[str] = collections.Counter()
    seconds: dict[str, float] = {}
    failures: dict[str, str] = {}
    inputs: dict[str, bool] = {}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations[shard::SHARDS]:
        label = operation.label
        inputs[label] = _has_inputs(operation)

        @settings(max_examples=wanted, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(case=_strategy(operation, target.known), who=st.sampled_from(IDENTITIES))
        def call(case, who):
            counts[case.operation.label] += 1
            headers = target.headers(who)
            response = case.call(headers=headers)
            if case.operation.method.upper() in ("PATCH", "DELETE") and response.status_code < 300:
                target.heal()
            case.validate_response(response, checks=CHECKS, headers=headers)

        begun = time.monotonic()
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - every operation is fuzzed; all failures are reported together
            failures[label] = "".join(traceback.format_exception_only(exc))[:3000]
        seconds[label] = time.monotonic() - begun
    elapsed = time.monotonic() - started
    assert counts, failures
    print(f"\nfuzzed {len(counts)} operations on {target.backend} in {elapsed:.0f} s: "
          f"{sum(counts.values())} cases, min {min(counts.values())} per operation with inputs ({wanted} asked)")
    for label, count in sorted(counts.items()):
        print(f"  {count:5d} cases {seconds[label]:6.1f} s  {label}")
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    assert len(counts) == len(operations[shard::SHARDS])
    short = {label: n for label, n in counts.items() if inputs[label] and n < wanted}
    assert short == {}, f"fewer generated cases than asked: {short}"


@pytest.mark.parametrize("who", ["author", "evaluator", "admin"])
def test_chained_operations_answer_as_documented(target, who):
    """Scenarios of up to 10 linked calls (create, then read, edit, publish, revoke what was created).

    The registry keeps what each scenario did, so Hypothesis, replaying a scenario's choices against a
    changed database, may find it does not draw the same way (``Flaky``): Schemathesis's own runner restarts
    then, and so does this test. Check failures are collected as they happen, never lost to a restart.
    """
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", target.app)
    wanted = STATEFUL_SCENARIOS[target.backend]
    steps: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    scenarios = [0]

    class Workflow(schema.as_state_machine()):
        def setup(self):
            scenarios[0] += 1

        def get_call_kwargs(self, case):
            return {"headers": target.headers(who)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            steps[case.operation.label] += 1
            if case.operation.method.upper() in ("PATCH", "DELETE") and response.status_code < 300:
                target.heal()
            try:
                case.validate_response(response, checks=CHECKS, headers=target.headers(who))
            except Exception as exc:  # noqa: BLE001 - recorded, so a replay cannot lose it
                failures.append(f"{case.operation.label}: {exc}"[:3000])

    assert schema.statistic.transitions.selected > 50  # links inferred from the document's ids and paths
    restarts = 0
    while scenarios[0] < wanted and restarts < 10:
        try:
            Workflow.run(settings=settings(max_examples=wanted - scenarios[0], stateful_step_count=10,
                                           deadline=None, database=None, phases=[Phase.generate],
                                           suppress_health_check=list(HealthCheck)))
        except Flaky:
            restarts += 1
    print(f"\nstateful as {who} on {target.backend}: {scenarios[0]} scenarios, {sum(steps.values())} calls over "
          f"{len(steps)} operations, {restarts} restarts")
    assert failures == [], "\n\n".join(failures)
    assert scenarios[0] >= wanted and len(steps) >= 15
