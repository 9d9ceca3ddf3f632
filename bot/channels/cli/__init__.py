"""The `sme-advisor` command (also `python -m bot`): everything a consultant or admin runs.

Each command is a thin layer over the package: it reads settings, builds the parts with
their factory functions, and turns failures into one clear line. The commands live
beside what they run (`knowledge`, `answers`, `review`, `versions`: the index versions) and are joined to the group
here; `common` holds what they share and `tables` how results look on a terminal.
"""

from __future__ import annotations

import click

from bot.channels.cli import answers, knowledge, review, versions
from bot.channels.cli.common import Commands


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """SME Advisor: grounded, cited advice for small-business owners.

    Answers come from the curated files in the knowledge dir (KNOWLEDGE_DIR,
    default ./knowledge), embedded into a local Chroma index by `ingest`.
    Settings are read from the environment and from ./.env; see .env.example.

    \b
    Typical session:
      python ingest.py                    # embed new and changed knowledge files
      python -m bot ask "How can I get credit without collateral?"
      python -m bot chat                  # a conversation in the terminal
    """


for command in (
    knowledge.ingest_command,
    knowledge.export_onnx_command,
    knowledge.eval_command,
    knowledge.lint_command,
    versions.index_group,
    answers.ask_command,
    answers.chat_command,
    answers.run_command,
    review.transcripts_group,
    review.stats_command,
    review.gaps_command,
    review.coverage_command,
    review.suggest_command,
    review.forget_command,
    review.prune_command,
    review.review_command,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="sme-advisor")
