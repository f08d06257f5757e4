"""``boas datasets import``: the same service as the API, on SQLite and PostgreSQL; refusals in one line, exit 2."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from audits.synth import generate_cohort
from boas.cli import main
from tests.conftest import BACKENDS, fresh_database_url
from tests.e2e.test_audits_api import DATASHEET
from tests.e2e.test_hostile_uploads import _leftovers


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_admin_registers_a_file_in_place_from_the_command_line(backend, tmp_path):
    url, cleanup = fresh_database_url(backend, tmp_path)
    root = tmp_path / "mnt" / "cohorts"
    root.mkdir(parents=True)
    generate_cohort(500, seed=41).to_csv(root / "cohort.csv", index=False)
    (root / "link.csv").symlink_to(root / "cohort.csv")
    metadata = tmp_path / "meta.json"
    metadata.write_text(json.dumps({"name": "Cohorte CLI", "label_column": "outcome", "row_key": "row_id",
                                    "sensitive_columns": ["sex"], "datasheet": DATASHEET}))
    data_dir = tmp_path / "data"
    env = {"BOAS_DATA_DIR": str(data_dir), "BOAS_DATABASE_URL": url, "BOAS_SECRET_KEY": "cli-test",
           "BOAS_DATASET_IMPORT_ROOTS": str(root)}
    runner = CliRunner()

    def boas(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    try:
        assert boas("db", "upgrade").exit_code == 0
        for email, role in (("admin@example.org", "admin"), ("eval@example.org", "evaluator")):
            assert boas("users", "create", "--email", email, "--role", role).exit_code == 0
        args = ("--metadata", str(metadata), "--as")

        done = boas("datasets", "import", "file:cohorts/cohort.csv", *args, "admin@example.org")
        assert done.exit_code == 0, done.stderr
        assert done.stdout.startswith("registered dataset 1 'Cohorte CLI': 500 rows, parquet sha256 ")

        linked = boas("datasets", "import", "file:cohorts/link.csv", *args, "admin@example.org")
        assert linked.exit_code == 2
        assert linked.stderr.strip() == ("error: the path goes through a symbolic link "
                                         "(source: symbolic links are not followed)")
        url_source = boas("datasets", "import", "https://example.org/c.csv", *args, "admin@example.org")
        assert url_source.exit_code == 2 and "BOAS fetches no URL" in url_source.stderr

        evaluator = boas("datasets", "import", "file:cohorts/cohort.csv", *args, "eval@example.org")
        assert evaluator.exit_code == 2
        assert evaluator.stderr.strip() == "error: this action requires the admin role"
        nobody = boas("datasets", "import", "file:cohorts/cohort.csv", *args, "nobody@example.org")
        assert nobody.exit_code == 2 and "no user with e-mail nobody@example.org" in nobody.stderr

        stored = [p for p in _leftovers(data_dir) if p.startswith("blobs/")]
        assert len(stored) == 1 and _leftovers(data_dir) == stored  # one dataset, no staging left
    finally:
        cleanup()
