"""Channels: where owners, consultants and admins meet the advisor.

- `dialogue`: one question through memory, the advisor and the transcript (every channel's path)
- `terminal`: the terminal chat (`ask`, `chat`)
- `telegram`: the Telegram bot
- `cli`: the `python -m bot` commands

The top of the package: may import every other room (advisor, storage, review,
knowledge, index, config); nothing imports a channel. Within it, `cli` may import
`telegram` and `terminal`, which may import `dialogue`.
"""
