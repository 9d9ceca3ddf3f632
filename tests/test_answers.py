"""Answers from the command line: `ask`, `ask --json`, `chat`, and the not-covered answer."""

from __future__ import annotations

import json
import re

import pytest
from conftest import SAMPLE_CREDIT, SAMPLE_TRADE, retriever_for, run_cli, run_ingest, write

from bot.advisor import Advisor


@pytest.fixture
def indexed(settings, kdir, embedder):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    run_ingest(settings, embedder)
    return settings


def env_for(settings) -> dict:
    return {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}


async def test_offline_answer_quotes_sentences_and_cites_matching_sources(indexed, embedder):
    advisor = Advisor(retriever_for(indexed, embedder), indexed)
    answer = await advisor.answer("How can a small business get credit without collateral?")
    assert answer.covered and answer.mode == "offline"
    assert answer.sources and answer.sources[0].path == "credit/collateral.md"
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert cited == {s.number for s in answer.sources}
    # sentences, not whole chunks: every quoted line is a sentence from the knowledge file
    knowledge_text = " ".join(SAMPLE_CREDIT.split())
    for line in answer.text.splitlines():
        sentence = re.sub(r"^- | \[\d+\]$", "", line)
        assert sentence.rstrip(".") in knowledge_text
    assert len(answer.text.splitlines()) == len(set(answer.text.splitlines()))


async def test_off_topic_question_gets_the_not_covered_answer(indexed, embedder):
    advisor = Advisor(retriever_for(indexed, embedder), indexed)
    answer = await advisor.answer("What is the right dose of paracetamol for a toddler?")
    assert not answer.covered and answer.sources == []
    assert "don't have material on that" in answer.text
    assert "Credit: Credit without collateral" in answer.text  # what it does cover


def test_ask_json_schema_and_order(indexed):
    result = run_cli("ask", "--json", "How do I pick a first export market?", env=env_for(indexed))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)  # exactly one JSON object on stdout
    assert set(payload) == {"question", "answer", "covered", "mode", "sources"}
    assert payload["question"] == "How do I pick a first export market?"
    assert payload["covered"] is True and payload["mode"] == "offline"
    assert payload["sources"][0]["path"] == "trade/export.md"
    for source in payload["sources"]:
        assert set(source) == {"path", "title", "heading", "score", "excerpt"}
    scores = [s["score"] for s in payload["sources"]]
    assert scores == sorted(scores, reverse=True)


def test_ask_prints_answer_and_sources(indexed):
    result = run_cli("ask", "Can invoices get me cash?", env=env_for(indexed))
    assert result.returncode == 0, result.stderr
    assert "Sources:" in result.stdout
    assert "[1] Credit without collateral › " in result.stdout


def test_ask_on_an_empty_index_says_what_to_do(settings):
    result = run_cli("ask", "anything", env=env_for(settings))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("run `python ingest.py` first")


def test_chat_reads_questions_from_stdin_until_eof(indexed):
    result = run_cli(
        "chat",
        env=env_for(indexed),
        input="How can a small business get credit without collateral?\n\nWhat is the capital of Peru?\n",
    )
    assert result.returncode == 0, result.stderr
    answers = result.stdout.split("> ")[1:]
    assert len(answers) == 2
    assert "[1]" in answers[0] and "credit/collateral.md" in answers[0]
    assert "don't have material on that" in answers[1]
