"""The Telegram channel: turns updates into advisor calls and answers into messages.

`app.py` builds the `Application` and runs it; `handlers.py` has one handler per
command; `formatting.py` turns answers into Telegram HTML; `access.py` decides who
may ask and how often.
"""
