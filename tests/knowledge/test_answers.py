"""A consultant's answer as a knowledge entry: owner details removed, the file as the ingest reads it."""

from __future__ import annotations

import datetime as dt

from bot.knowledge.answers import redact, redact_all, render_entry, slug, write_entry
from bot.knowledge.asked import take_asked
from bot.knowledge.documents import parse_document


def test_the_owners_details_are_removed_and_named():
    text = (
        "Hi Rosie Baker, call me on +44 7700 900123 or rosie@bake.co.uk, @rosiebakes; "
        "account 12345678. On 2026-11-26 pay 25,000 in 2027 (about 15%)."
    )
    result = redact(text, ["Rosie Baker"])
    assert result.text == (
        "Hi [name] [name], call me on [phone] or [e-mail], [username]; "
        "account [number]. On 2026-11-26 pay 25,000 in 2027 (about 15%)."
    )
    assert result.removed == ("an e-mail address", "a @username", "a long number", "a phone number", "a name")


def test_nothing_to_remove_leaves_the_text_alone():
    text = "Register for VAT once your turnover passes the threshold; keep records for 6 years."
    assert redact(text, ["Owner111"]) == redact(text) and redact(text).text == text and not redact(text).removed
    assert redact("rosemary is a herb", ["Rose"]).text == "rosemary is a herb"  # whole words only


def test_questions_and_answer_are_redacted_together():
    questions, answer, removed = redact_all(["I'm Tom, do I need VAT?"], "Tom, yes: call 020 7946 0958.", ["Tom"])
    assert questions == ["I'm [name], do I need VAT?"] and answer == "[name], yes: call [phone]."
    assert removed == ("a name", "a phone number")


def test_an_entry_reads_as_a_knowledge_file_with_its_ways_of_asking(tmp_path):
    text = render_entry(
        questions=["Do I need to register for VAT as a baker?", "## vat for bakeries"],
        answer="Yes, once your turnover passes the threshold.",
        author='Ann "the" Consultant',
        date=dt.date(2026, 12, 7),
    )
    document = parse_document("answers/vat.md", text.encode())
    assert document.title == "Do I need to register for VAT as a baker?"
    assert document.source == "consultant" and document.updated == "2026-12-07" and document.topic == "answers"
    assert text.count('author: "Ann \\"the\\" Consultant"') == 1 and "date: 2026-12-07" in text
    section = text.split("## Do I need to register for VAT as a baker?\n", 1)[1]
    asked = take_asked(section)
    assert asked.ways == ("Do I need to register for VAT as a baker?", "vat for bakeries")
    assert asked.text == "Yes, once your turnover passes the threshold."


def test_a_file_is_never_overwritten(tmp_path):
    first = write_entry(tmp_path, "one", "Do I need VAT?")
    second = write_entry(tmp_path, "two", "Do I need VAT?")
    assert (str(first), str(second)) == ("answers/do-i-need-vat.md", "answers/do-i-need-vat-2.md")
    assert (tmp_path / first).read_text() == "one" and (tmp_path / second).read_text() == "two"
    assert slug("¿Qué es el IVA?") == "que-es-el-iva" and slug("???") == "answer"


def test_a_draft_is_linted_as_its_file_would_be():
    from bot.knowledge.lint import lint_entry

    date = dt.date(2026, 12, 7)
    request = render_entry(
        questions=["I need help with a bank loan"], answer="Bring statements.", author="A", date=date
    )
    found = {(f.check, f.error) for f in lint_entry(request, "answers/i-need-help-with-a-bank-loan.md")}
    assert found == {("question heading", True), ("short", False)}
    good = render_entry(
        questions=["How long should I keep receipts?"], answer=" ".join(["word"] * 60), author="A", date=date
    )
    assert lint_entry(good, "answers/how-long-should-i-keep-receipts.md") == []
