#!/usr/bin/env python
"""Embed the knowledge dir into the Chroma index: `python ingest.py --help`.

A thin script over `bot`: the same command as `python -m bot ingest`.
"""

from bot.channels.cli import cli

if __name__ == "__main__":
    cli(["ingest", *__import__("sys").argv[1:]], prog_name="ingest.py")
