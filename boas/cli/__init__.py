"""The ``boas`` command: database migrations, accounts, tokens, datasets, the audit log, the server and workers.

Commands go through the same services as the API and the pages, wired by ``boas.runtime``. An
operational failure (no database, wrong URL, a bad setting) is one line on standard error saying
what to set or run, with exit status 1; a refused input is the service's message, exit status 2.
"""

from __future__ import annotations

import click

from boas.cli import accounts, audit_log, client, data, server
from boas.cli.common import OneLineErrors


@click.group(cls=OneLineErrors)
def main() -> None:
    """BOAS, the open library of health algorithms."""


for _module in (data, accounts, audit_log, server, client):
    for _command in _module.COMMANDS:
        main.add_command(_command)
