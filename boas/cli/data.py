"""``boas db``, ``boas datasets`` and ``boas demo``: the schema, synthetic cohorts and demo content."""

from __future__ import annotations

import click

from boas.cli.common import redacted, refuse, runtime
from boas.config import load_settings
from boas.runtime import upgrade_database
from registry_db.errors import BoasError


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply Alembic migrations (creates the SQLite file and data directory if needed)."""
    settings = load_settings()
    upgrade_database(settings, revision)
    click.echo(f"database at {revision}: {redacted(settings.database_url)}")


@click.group()
def datasets() -> None:
    """Reference datasets."""


@datasets.command("synth")
@click.option("--rows", default=10_000, show_default=True, type=click.IntRange(1, 50_000_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--bias", default=None, metavar="FEATURE=GROUP[:STRENGTH]",
              help="inject a known under-detection of one group, e.g. sex=F:0.5 or region=Corse")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default="-",
              help="CSV file to write, or .parquet; '-' for standard output")
def datasets_synth(rows: int, seed: int, bias: str | None, output: str) -> None:
    """Write the synthetic French reference cohort (no download, no real person)."""
    from audits.synth import BiasSpec, generate_cohort

    spec = None
    if bias:
        feature, _, rest = bias.partition("=")
        group, _, strength = rest.partition(":")
        if not feature or not group:
            raise click.BadParameter("expected FEATURE=GROUP[:STRENGTH]", param_hint="--bias")
        try:
            spec = BiasSpec(feature, group, float(strength) if strength else 0.5)
            frame = generate_cohort(rows, seed, bias=spec)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--bias") from exc
    else:
        frame = generate_cohort(rows, seed)
    frame["sex_f"] = (frame["sex"] == "F").astype(int)
    if output == "-":
        click.echo(frame.to_csv(index=False), nl=False)
    elif output.endswith(".parquet"):
        frame.to_parquet(output, index=False)
    else:
        frame.to_csv(output, index=False)
    if output != "-":
        click.echo(f"wrote {len(frame)} rows to {output}" + (f" with bias {spec}" if spec else ""), err=True)


@datasets.command("import")
@click.argument("source")
@click.option("--metadata", required=True, type=click.File("r", encoding="utf-8"),
              help="JSON file holding the dataset's metadata and datasheet (the DatasetMeta object)")
@click.option("--as", "admin", required=True, metavar="EMAIL",
              help="the admin account registering it, recorded in the audit log")
def datasets_import(source: str, metadata, admin: str) -> None:
    """Register a reference dataset where it already is: SOURCE is file:<root>/<path> or s3://<bucket>/<key>.

    The roots and buckets are those of BOAS_DATASET_IMPORT_ROOTS and BOAS_DATASET_IMPORT_S3; the file is
    copied into the registry and checked exactly as an upload (identifiers refused, Parquet stored).
    """
    from audits.dataset_imports import register_dataset_from_source
    from boas.registry.accounts import get_user_by_email

    wiring = runtime()
    try:
        with wiring.session_factory() as session:
            try:
                dataset = register_dataset_from_source(session, get_user_by_email(session, admin), wiring.storage,
                                                       source=source, metadata=metadata.read())
            except BoasError as exc:
                refuse(exc)
            click.echo(f"registered dataset {dataset.id} '{dataset.name}': {dataset.row_count} rows, "
                       f"{dataset.format} sha256 {dataset.sha256}, from {source}")
    finally:
        wiring.dispose()


def fill_demo() -> None:
    """Seed demo content when the registry is empty (see boas/demo.py)."""
    from boas.demo import Demo, seed_demo

    wiring = runtime()
    try:
        if not seed_demo(Demo(runtime=wiring, log=click.echo)):
            click.echo("the registry already holds algorithms: demo content not added")
    finally:
        wiring.dispose()


@click.command()
def demo() -> None:
    """Fill an empty registry with realistic demo content (models, versions, audits, drift)."""
    upgrade_database(load_settings())
    fill_demo()


COMMANDS = (db, datasets, demo)
