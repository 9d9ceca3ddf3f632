"""SME Advisor: grounded, cited advice for small-business owners.

Rooms of the package, each importing only the ones listed after it
(enforced by import-linter: `[tool.importlinter]` in pyproject.toml):

- `bot.channels`: Telegram, the terminal chat and the command line; `dialogue` joins
  memory, the advisor and the transcript for every channel
- `bot.review`: statistics, knowledge gaps, exports and the Datasette browser for admins
- `bot.storage`: the transcript database (owners, conversations, turns, feedback)
- `bot.advisor`: question → `Answer` with sources (knows no channel and no database)
- `bot.knowledge`: files → documents → chunks, and the ingest that writes them into the index
- `bot.index`: embeddings, the Chroma store, index versions and the `Retriever`
- `bot.config`: the one typed settings object
"""
