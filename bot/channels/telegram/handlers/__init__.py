"""The bot's handlers, one per command and kind of update, grouped by who they serve.

- `deps`: `BotDeps` and `BotContext` (`context.deps`), the access gate, `admin_only`, `consultant_only`
- `owner`: owners' commands and their questions
- `streaming`: answering: limits, typing, drafts, the answer as messages
- `keyboards` and `buttons`: the inline buttons and what their taps do
- `admin`: the team's commands (/stats, /gaps, /transcript for consultants; the rest admins only)
- `handover`: owners asking for a person (/human, the button, what they write meanwhile)
- `consultants`: consultants' replies to cards and the cards' buttons
- `desk`: /queue (open requests, Claim, Open), /myname, the owner's 👍/👎 after Resolve
- `digest`: the daily digest, /digest and its buttons
- `review`: /review, a one-time login link to the browser review (or how to start it)
- `teach`: consultants' replies and answers to gaps as draft knowledge entries, edited by reply
- `teach_publish`: a draft published (guarded by the eval) or discarded; /rollback
- `voice`: voice notes (transcribed, then answered)
- `photos`: photos: their text read (OCR) and kept like a document; else their caption is the question
- `documents`: owners' own files (PDF, Word, text, Markdown), read into their private store; /documents
- `reminders`: /remind, /reminders, "Remind me" under answers, time zones, sending what is due
- `checkin`: /checkin, the quarterly check-in on the owner's three priorities
- `hear_back`: "Tell me when you know" under a not-covered answer, and telling those owners
  once a published entry answers them (`tell_waiting_owners`, at most once a day per owner)
- `mydata`: /mydata, what the bot holds about the owner as a JSON file in their language
- `jobs`: repeating jobs and the one error handler

Each of `owner`, `buttons`, `admin`, `handover`, `consultants`, `desk`, `digest` and `voice` exports
`HANDLERS` for `bot.channels.telegram.app` to register (so do `reminders`, `checkin`,
`documents`, `photos`, `mydata`, `review`, `teach`, `teach_publish` and `hear_back`). Bad input is
answered where it arrives, with a usage hint; anything unexpected goes to `jobs.on_error`, which
logs first, reports to the admin chat and gives the owner a reference.
"""
