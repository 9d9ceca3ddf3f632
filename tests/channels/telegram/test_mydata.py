"""/mydata: an owner downloads what the bot holds about them, as a JSON file labelled in their
language; in a group it sends nothing."""

from __future__ import annotations

import json

from bot.locales import texts
from tests.helpers.telegram import CREDIT_Q, OWNER, asked

OTHER = 222


async def test_mydata_sends_the_owners_data_as_a_file_labelled_in_their_language(start_bot, telegram):
    """A Russian owner with a profile, a question, a document and a reminder gets all of it back
    in `my-data.json`, keys in Russian, the chosen profile values too; another owner's data is
    not in it; the command is in the menu in every language, and in /help."""
    await start_bot(llm_model=None)
    ru = texts("ru")
    await asked(telegram, OWNER, "/profile industry=food and drink region=Казань", language_code="ru")
    await asked(telegram, OWNER, CREDIT_Q, language_code="ru")
    await asked(telegram, OTHER, "How do I price my cakes?", language_code="ru")
    notes = {**telegram.add_file(b"# Shop notes\n\nWe open at seven.", "notes.md"), "file_name": "notes.md"}
    await asked(telegram, OWNER, None, extra={"document": {**notes, "mime_type": "text/markdown"}}, language_code="ru")
    await asked(telegram, OWNER, "/remind in 2 weeks update my cash forecast", language_code="ru")  # the zone?
    # two replies: "Time zone: …", then the reminder set (/mydata must not race the second)
    await asked(telegram, OWNER, "Europe/Moscow", count=2, language_code="ru")

    before = len(telegram.calls_of("sendDocument"))
    telegram.message(OWNER, "/mydata", language_code="ru")
    await telegram.wait_for(lambda: len(telegram.calls_of("sendDocument")) > before, what="the data file")
    call = telegram.calls_of("sendDocument")[-1]
    assert int(call.params["chat_id"]) == OWNER and call.params["_filename"] == "my-data.json"
    assert call.params["caption"] == ru("Everything I hold about you, as a file. /forget deletes it all.")
    data = json.loads(call.params["document"])
    assert data[ru("Profile")] == {ru("Industry"): ru("Food & drink"), ru("Region/country"): "Казань"}
    [turn] = data[ru("Questions and answers")]
    assert turn[ru("Question")] == CREDIT_Q and "collateral" in turn[ru("Answer")].lower()
    [document] = data[ru("Documents")]
    assert (document[ru("File")], document[ru("Title")]) == ("notes.md", "Shop notes")
    assert data[ru("Time zone")] == "Europe/Moscow" and data[ru("Language")] is None  # the app's, none chosen
    [reminder] = data[ru("Reminders")]
    assert reminder[ru("Reminder")] == "update my cash forecast" and reminder[ru("Due (UTC)")]
    keys = [ru("Profile"), ru("Questions and answers"), ru("Documents"), ru("Reminders"), ru("Question")]
    assert all(key.isascii() is False for key in keys), keys  # translated, not English
    assert "How do I price my cakes?" not in call.params["document"].decode()

    [refused] = await asked(telegram, OWNER, "/mydata", chat_id=-100, chat_type="group", language_code="ru")
    assert refused == ru("Send /mydata in a private chat: your data is for you only.")
    assert len(telegram.calls_of("sendDocument")) == before + 1
    menus = telegram.calls_of("setMyCommands")
    assert menus and all("mydata" in [c["command"] for c in menu.params["commands"]] for menu in menus)
    [help_text] = await asked(telegram, OWNER, "/help", language_code="ru")
    assert "/mydata – " + ru("download what I hold about you, as a file") in help_text
