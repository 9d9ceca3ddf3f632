"""`index` commands: the index versions an ingest publishes (`index rollback`)."""

from __future__ import annotations

import click

from bot.channels.cli.common import fail, index_dir_option, knowledge_dir_option, settings_from


@click.group("index")
def index_group() -> None:
    """The index versions: each ingest publishes a new one; the last few are kept."""


@index_group.command("rollback")
@knowledge_dir_option
@index_dir_option
@click.pass_context
def rollback_command(ctx, knowledge_dir, index_dir) -> None:
    """Make the previous index version live again (a running bot follows within seconds).

    Consultants' entries the rolled-back version added (knowledge/answers/) are moved to
    knowledge/answers/.rolled-back/, so the next ingest does not publish them again.
    """
    from bot.knowledge.rollback import NoEarlierVersion, roll_back

    settings = settings_from(ctx, knowledge_dir=knowledge_dir, index_dir=index_dir)
    try:
        done = roll_back(settings)
    except NoEarlierVersion as exc:
        fail(f"nothing rolled back: {exc}")
    click.echo(done.describe())
