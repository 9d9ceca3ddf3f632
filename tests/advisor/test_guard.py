"""The eval guards a publish: an entry that would take the lead from a section the eval labels
right is held back (the live version stays live); one about something else goes live."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.advisor import Advisor
from bot.advisor.guard import EntryRefused, guard_publish, guard_questions, publish_entry, warm_up
from bot.config import load_settings
from bot.index import versions
from bot.index.opening import make_index
from bot.index.retriever import Retriever
from bot.knowledge.answers import render_entry, write_entry
from bot.knowledge.rollback import NoEarlierVersion, roll_back
from bot.knowledge.runner import PublishHeld, run_ingest
from tests.helpers import SAMPLE_CREDIT, invoke, write

EVAL = """
- question: "no property to pledge, can I still get a loan"
  sections: ["credit/collateral.md#How do data-driven lenders decide?"]
- question: "can I borrow without collateral"
  sections: ["credit/collateral.md#How do data-driven lenders decide?"]
- question: "What is the best recipe for sourdough bread?"
  expect: not_covered
"""
COPYCAT = ["can I borrow without collateral", "no property to pledge, can I still get a loan"]
KOMBUCHA = ["How do I keep a fermentation log for kombucha?", "kombucha batch records"]


@pytest.fixture
def library(tmp_path, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "eval/questions.yaml", EVAL)
    settings = load_settings(
        knowledge_dir=kdir, data_dir=tmp_path / "data", embedding_backend="onnx-q8", _env_file=None
    )
    run_ingest(settings)
    retriever = Retriever(make_index(settings), embedder)
    retriever.follow_versions(settings)
    return settings, Advisor(retriever, settings)


def publish(settings, advisor, questions, answer):
    text = render_entry(questions=questions, answer=answer, author="Ann", date=dt.date(2026, 12, 7))
    path = write_entry(settings.knowledge_dir, text, questions[0])
    reports = []

    def check(folder):
        reports.append(guard_publish(advisor, folder, str(path), questions))
        return reports[-1] if reports[-1].held else None

    return path, check, reports


def test_an_entry_copying_a_labelled_sections_questions_is_held(library):
    settings, advisor = library
    assert [q.question for q in guard_questions(settings.knowledge_dir)] == COPYCAT[::-1]
    path, check, _reports = publish(settings, advisor, COPYCAT, "Ask your bank for an unsecured loan.")
    with pytest.raises(PublishHeld) as held:
        run_ingest(settings, embeddings=advisor.retriever.embeddings, before_publish=check)
    report = held.value.reason
    assert report.line() == "Held: this entry would take the lead from 2 questions the library answered before."
    assert {d.before for d in report.displaced} == {"credit/collateral.md#How do data-driven lenders decide?"}
    assert {d.after.split("#")[0] for d in report.displaced} == {str(path)}
    assert versions.current_version(settings.index_path) == 1  # nothing went live
    assert not (settings.index_path / "versions" / "2").exists()


def test_an_entry_about_something_else_goes_live_and_a_rollback_takes_it_back(library):
    settings, advisor = library
    path, check, reports = publish(settings, advisor, KOMBUCHA, "Write the date, sugar and pH of each batch.")
    run_ingest(settings, embeddings=advisor.retriever.embeddings, before_publish=check)
    assert reports and not reports[0].held and versions.current_version(settings.index_path) == 2

    env = {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}
    result = invoke("index", "rollback", env={**env, "EMBEDDING_BACKEND": "onnx-q8"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Rolled back: index version 1 is live again (version 2 is no longer used).",
        f"Taken out: {path}",
        f"Moved to answers/.rolled-back/ so the next ingest does not publish it again: {path}",
    ]
    assert versions.current_version(settings.index_path) == 1 and not (settings.knowledge_dir / path).exists()
    assert (settings.knowledge_dir / "answers/.rolled-back" / path.name).exists()
    run_ingest(settings)  # the entry does not come back
    assert versions.current_version(settings.index_path) == 1
    with pytest.raises(NoEarlierVersion, match="no earlier index version"):
        roll_back(settings)


def test_an_entry_the_ingest_refuses_is_taken_away_again(library):
    settings, advisor = library
    with pytest.raises(EntryRefused, match="the ingest refused the entry: its text only repeats itself"):
        publish_entry(advisor, questions=KOMBUCHA, answer="log it. " * 40, author="Ann", date=dt.date(2026, 12, 7))
    assert not list((settings.knowledge_dir / "answers").glob("*.md"))
    assert versions.current_version(settings.index_path) == 1
    assert warm_up(advisor) == 2  # the eval questions, embedded before a publish needs them


@pytest.mark.hostile
def test_an_entry_rolled_back_twice_under_one_name_keeps_both_versions(library):
    """The same question published, rolled back, published again (rewritten) and rolled back
    again: the second move replaced the first rolled-back file, and its text was lost."""
    settings, advisor = library
    texts = ["Register with the food authority first.", "Ask the council for a premises licence first."]
    for answer in texts:
        publish_entry(advisor, questions=KOMBUCHA, answer=answer, author="Ann", date=dt.date(2026, 12, 7), force=True)
        roll_back(settings)
    kept = sorted(p.read_text() for p in (settings.knowledge_dir / "answers/.rolled-back").glob("*.md"))
    assert len(kept) == 2 and all(any(t in k for k in kept) for t in texts), kept
