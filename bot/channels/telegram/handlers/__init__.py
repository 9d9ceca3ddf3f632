"""The bot's handlers, one per command and kind of update, grouped by who they serve.

- `deps`: `BotDeps` and `BotContext` (`context.deps`), the access gate, `admin_only`
- `owner`: owners' commands and their questions
- `streaming`: answering: limits, typing, drafts, the answer as messages
- `keyboards` and `buttons`: the inline buttons and what their taps do
- `admin`: admin commands
- `jobs`: repeating jobs and the one error handler

Each of `owner`, `buttons` and `admin` exports `HANDLERS` for `bot.channels.telegram.app`
to register. Bad input is answered where it arrives, with a usage hint; anything
unexpected goes to `jobs.on_error`, which logs first and gives the owner a reference.
"""
