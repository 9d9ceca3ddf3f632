"""The Telegram channel: turns updates into advisor calls and answers into messages.

- `app`: builds the `Application` in one place and runs it (polling or webhook)
- `updates`: flood limits for messages, one chat's updates in order (across processes too)
- `chats`: what each chat is doing: questions one at a time, long pastes gathered, /cancel
- `steps`: where an owner is in /profile and the other multi-step conversations, for every worker
- `webhook`: the webhook receiver several workers run behind one address
- `handlers`: one handler per command and kind of update, by audience
- `formatting`: answers as Telegram HTML, split within Telegram's limits
- `admin_texts`: what admins read (a turn, /stats, /gaps) as Telegram HTML, never raw Markdown
- `access`: who may ask, and how often
- `admin_chat`: where cards, error reports and the digest go, and who counts as a consultant
- `cards`: the hand-over card consultants read in the admin chat

May import `bot.channels.dialogue` and every room below the channels; never the command
line or the terminal chat.
"""
