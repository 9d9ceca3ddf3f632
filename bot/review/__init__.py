"""Review: what admins and consultants learn from the transcripts.

- `stats`: usage statistics (volume, owners, feedback, modes, latency, topics)
- `gaps`: knowledge-gap themes: not-covered, weak or 👎 questions grouped by meaning
- `export`: CSV and JSON-lines exports, streamed
- `datasette`: the read-only browser over the transcript database; `datasette_plugins/`
  holds the Datasette plugins it loads (the Host header check)

May import `bot.storage`, `bot.index` (gaps are matched against the knowledge index),
`bot.advisor` and `bot.config`; never a channel. How results look on a terminal is the
command line's business (`bot.channels.cli.tables`).
"""
