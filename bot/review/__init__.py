"""Review: what admins and consultants learn from the transcripts.

- `stats`: usage statistics (volume, owners, feedback, modes, latency, topics)
- `gaps`: knowledge-gap themes: not-covered, weak or 👎 questions grouped by meaning
- `coverage`: per knowledge file its citations, 👍/👎 and retrieving questions; which gaps are now covered
- `suggestions`: what to write, rewrite, merge, review or retire next, ranked by owners affected
- `duplicates`: sections in different files that compete for the same questions (near-duplicates)
- `export`: CSV and JSON-lines exports, streamed
- `digest`: the daily digest for the admin chat (numbers, new 👎 comments, hand-overs, gaps)
- `datasette`: the read-only browser over the transcript database; `datasette_plugins/`
  holds the Datasette plugins it loads (the Host header check, `review_pages` for the pages
  below, `readable_cells`, `home_page` hiding Datasette's `_internal`, `session_help` for the
  page a visitor without a session gets, `telegram_login` for `/review`'s links), `templates/`
  their pages and `static/` their CSS, script and the bundled Vega builds
- `conversation`: one conversation as a chat (`/-/conversation/<id>`)
- `dashboard`: the dashboard's charts (`/-/dashboard`), as Vega-Lite specs with their data
- `login`: one-time login links to the browser review (signed, spent once), for `/review`
- `gap_store`: the gap themes computed before Datasette starts, in a small database it serves
- `render` and `cells`: answers as Markdown, sources as lists, long text folded, in every table
- `people`: owners by name (their `tg:` id small beside it) and times to the minute in the
  review's time zone (REVIEW_TIME_ZONE, else the first admin's own)
- `consultant_entries`: the files consultants published (`source: consultant`) and the owners'
  questions each answered since (`/-/consultant-entries`)

May import `bot.storage`, `bot.index` (gaps are matched against the knowledge index),
`bot.advisor`, `bot.knowledge` (the consultant entries' files, the `review_by` dates) and
`bot.config`; never a channel. How results look on a terminal is the command line's business
(`bot.channels.cli.tables`).
"""
