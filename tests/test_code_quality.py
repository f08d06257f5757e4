"""House rules checked on every run: the import layers hold, ruff is clean and the type checker passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_import_layers_hold():
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_ruff_is_clean():
    result = subprocess.run([str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_type_checker_passes(monkeypatch):
    """mypy over the store, model cards, audits and services, as configured in pyproject.toml ([tool.mypy])."""
    from mypy import api

    monkeypatch.chdir(ROOT)  # the configured packages and the cache (.mypy_cache) are found from the root
    stdout, stderr, status = api.run(["--config-file", str(ROOT / "pyproject.toml")])
    assert status == 0, stdout + stderr
    checked = re.search(r"no issues found in (\d+) source files", stdout)
    assert checked and int(checked.group(1)) >= 80, stdout  # the configured packages, not an empty selection


def test_importing_the_app_module_has_no_side_effects(tmp_path):
    code = "import boas, boas.api, boas.cli, boas.registry.versions, boas.runtime, model_cards.exports, registry_db.store; import os; print(sorted(os.listdir('.')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # no data directory, database or secret created on import


def test_workers_and_the_cli_never_load_the_web_stack():
    """The registry services live under ``boas/`` but must stay importable without Flask (workers, CLI)."""
    code = ("import sys, boas.runtime, boas.cli, boas.demo, audits.runner, boas.registry.versions, "
            "boas.registry.lifecycle; print(sorted(m for m in ('flask', 'werkzeug', 'flask_smorest', 'flask_babel') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_authors_client_loads_neither_the_web_stack_nor_the_database():
    """``boas.client`` runs in authors' pipelines: HTTP and the pure artifact checks, nothing of the server."""
    code = ("import sys, boas.client; print(sorted(m for m in ('flask', 'werkzeug', 'sqlalchemy', 'alembic', 'huey', "
            "'boas.registry.versions', 'registry_db.store', 'model_cards', 'audits') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_readme_configuration_table_is_the_settings_declaration():
    """Defaults are written once, in ``Settings``; the README's table is generated from it."""
    from boas.config import configuration_table

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n".join(configuration_table()) in readme


def test_the_documented_layout_matches_the_tree():
    """Every package and top-level module the README's layout names exists, and every package is named."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme[readme.index("## Layout"):]
    for package in ("boas", "model_cards", "audits", "registry_db"):
        for child in sorted((ROOT / package).iterdir()):
            if child.is_dir() and (child / "__init__.py").exists():
                assert f"{child.name}/" in layout, f"{package}/{child.name}/ is not in the README's layout"
    for named in ("app.py", "config.py", "runtime.py", "context.py", "demo.py"):
        assert (ROOT / "boas" / named).exists(), named
    assert (ROOT / "docs" / "architecture.md").exists()
