"""SME Advisor: grounded, cited advice for small-business owners.

Rooms of the package, in the direction data flows:

- channels: `bot.terminal` (ask/chat), `bot.cli` (commands), the Telegram bot
- `bot.advisor`: question → `Answer` with sources (knows no channel)
- `bot.retrieval`: question → `Passage`s from the index (`bot.index`)
- `bot.knowledge`: files → documents → chunks, fed to the index by `bot.ingestion`
- `bot.config`: the one typed settings object
"""
