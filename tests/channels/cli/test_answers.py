"""Answers from the command line: `ask`, `ask --json`, `chat`, and the not-covered answer."""

from __future__ import annotations

import json
import re

from bot.advisor import Advisor
from tests.helpers import SAMPLE_CREDIT, invoke, retriever_for, run_cli, run_ingest, write
from tests.helpers.terminal_chat import TerminalChat


def env_for(settings) -> dict:
    return {"KNOWLEDGE_DIR": str(settings.knowledge_dir), "DATA_DIR": str(settings.data_dir)}


async def test_offline_answer_quotes_sentences_and_cites_matching_sources(indexed, embedder):
    advisor = Advisor(retriever_for(indexed, embedder), indexed)
    answer = await advisor.answer("How can a small business get credit without collateral?")
    assert answer.covered and answer.mode == "offline"
    assert answer.sources and answer.sources[0].path == "credit/collateral.md"
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert cited == {s.number for s in answer.sources}
    # sentences, not whole chunks: every quoted sentence is one from the knowledge file
    knowledge_text = " ".join(SAMPLE_CREDIT.split())
    lines = [line for line in answer.text.splitlines() if line.strip() and line != "**Also relevant:**"]
    for line in lines:
        for sentence in re.split(r"(?<=\.) ", re.sub(r"^- | \[\d+\]$", "", line)):
            assert sentence.rstrip(".") in knowledge_text
    assert len(lines) == len(set(lines))


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
    assert set(payload) == {"question", "answer", "covered", "mode", "confidence", "lead", "sources", "follow_ups"}
    assert payload["question"] == "How do I pick a first export market?"
    assert payload["covered"] is True and payload["mode"] == "offline" and 0 < payload["confidence"] <= 1
    assert payload["lead"] == {
        "path": "trade/export.md",
        "heading": "How do I pick a first export market?",
        "title": "Selling across borders",
    }
    for source in payload["sources"]:
        assert set(source) == {"label", "path", "title", "heading", "score", "excerpt"}
    # the sources in the order the answer cites them, the lead first
    assert payload["sources"][0]["path"] == "trade/export.md"
    cited = [payload["answer"].index(f"[{s['label']}]") for s in payload["sources"]]
    assert cited == sorted(cited)


def test_ask_prints_answer_and_sources(indexed):
    result = invoke("ask", "Can invoices get me cash?", env=env_for(indexed))
    assert result.returncode == 0, result.stderr
    assert "Sources:" in result.stdout
    assert "[1] Credit without collateral › " in result.stdout


def test_ask_on_an_empty_index_says_what_to_do(settings):
    result = run_cli("ask", "anything", env=env_for(settings))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("run `python ingest.py` first")


def test_chat_reads_questions_from_stdin_until_eof(indexed):
    result = invoke(
        "chat",
        env=env_for(indexed),
        input="How can a small business get credit without collateral?\n\nWhat is the capital of Peru?\n",
    )
    assert result.returncode == 0, result.stderr
    answers = result.stdout.split("> ")[1:]
    assert len(answers) == 2
    assert "[1]" in answers[0] and "credit/collateral.md" in answers[0]
    assert "don't have material on that" in answers[1]


def test_a_greeting_in_the_terminal_shows_examples_in_its_language(indexed):
    """ "hola" is answered in Spanish, and the example questions under it are Spanish too (they
    were always English in the terminal, unlike Telegram's buttons)."""
    from bot.advisor.smalltalk import EXAMPLE_QUESTIONS
    from bot.locales import texts

    result = invoke("chat", env=env_for(indexed), input="hola\nhello\n")
    assert result.returncode == 0, result.stderr
    spanish, english = result.stdout.split("> ")[1:]
    _ = texts("es")
    assert f"{_('Try one of these:')}\n  - {_(EXAMPLE_QUESTIONS[0])}" in spanish
    assert _(EXAMPLE_QUESTIONS[0]) != EXAMPLE_QUESTIONS[0]
    assert f"Try one of these:\n  - {EXAMPLE_QUESTIONS[0]}" in english


async def test_a_list_cut_by_the_splitter_is_quoted_whole(settings, kdir, embedder):
    items = [
        "Bank statements for the last twelve months from every business account",
        "Profit and loss statements and balance sheets for the last two years",
        "A cash-flow forecast for the next twelve months with your assumptions",
        "Tax returns and proof that business taxes are paid up to date",
        "A short note on what the loan is for and how it will be repaid",
        "Details of existing debts, leases and any personal guarantees",
        "Identity documents and the registration papers of the business",
    ]
    body = "\n".join(f"- {item}." for item in items)
    write(
        kdir,
        "credit/loan-documents.md",
        "# Loan documents\n\n## What documents do I need for a loan application?\n\n"
        f"Lenders ask for the same core papers, so gather these seven documents before you apply:\n\n{body}\n",
    )
    small = settings.model_copy(update={"chunk_size": 60, "chunk_overlap": 10})
    run_ingest(small, embedder)
    advisor = Advisor(retriever_for(small, embedder), small)
    answer = await advisor.answer("What documents do I need for a loan application?")
    assert "gather these seven documents before you apply:" in answer.text
    for item in items:
        assert answer.text.count(item) == 1, item


async def test_sentences_about_the_file_itself_are_not_quoted(settings, kdir, embedder):
    write(
        kdir,
        "growth/outsourcing.md",
        "# Outsourcing\n\n## What should I outsource first?\n\n"
        "This file explains outsourcing for small firms in detail. "
        "Outsource bookkeeping and payroll first, because they take hours and rarely win customers. "
        "See also growth/leverage.md for more on leverage.\n",
    )
    run_ingest(settings, embedder)
    answer = await Advisor(retriever_for(settings, embedder), settings).answer("What should I outsource first?")
    assert "Outsource bookkeeping and payroll first" in answer.text
    assert "This file" not in answer.text and ".md" not in answer.text


def test_an_llm_without_its_api_key_is_one_line_not_a_traceback(indexed):
    result = run_cli("ask", "Can invoices get me cash?", env={**env_for(indexed), "LLM_MODEL": "openai:gpt-4o-mini"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: LLM_MODEL=openai:gpt-4o-mini cannot be used") and "set LLM_API_KEY" in line


def test_chat_remembers_earlier_runs_until_new_and_never_asks_a_command(indexed):
    """A scripted chat continues the conversation of the run before it ("what else?" is read
    after its question); `/new` starts a fresh one, and `/new`, `/help` or a typo'd command are
    never sent to the advisor as questions (`/new` used to get a confident repeated answer)."""
    env = env_for(indexed)
    question = "How can a small business get credit without collateral?"
    first = json.loads(invoke("chat", "--json", env=env, input=question + "\n").stdout)
    assert first["covered"] and first["lead"]["path"] == "credit/collateral.md"
    later = invoke("chat", "--json", env=env, input="what else?\n").stdout
    assert json.loads(later)["answer"] != first["answer"]  # a follow-up: never the same answer again

    lines = invoke("chat", "--json", env=env, input="/new\nwhat else?\n/help\n/nwe\n").stdout.splitlines()
    new, fresh, help_, typo = (json.loads(line) for line in lines)
    assert new == {"command": "/new", "text": "Started a new conversation: earlier questions are no longer used."}
    assert not fresh["covered"] and fresh["sources"] == []  # nothing before it to be more of
    assert help_["command"] == "/help" and "/new starts a new conversation" in help_["text"]
    assert typo["text"].startswith("/nwe is not a command here.")


def test_the_terminal_shows_plain_text_not_markdown(indexed):
    result = invoke("ask", "How can a small business get credit without collateral?", env=env_for(indexed))
    assert result.returncode == 0 and "Sources:" in result.stdout
    assert "**" not in result.stdout and "\n_" not in result.stdout


def test_ctrl_c_ends_the_terminal_chat_while_it_waits_for_a_question(tmp_path, kdir):
    """asyncio's Ctrl-C handler only cancelled the chat's task, which the read blocked on the
    terminal never noticed: a first Ctrl-C did nothing until Enter was pressed."""
    import signal

    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    env = {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}
    with TerminalChat(env, quit_at_exit=False) as chat:
        assert "Credit without collateral" in chat.ask("How can a small business borrow without collateral?")
        chat.proc.send_signal(signal.SIGINT)  # the chat now waits for the next line
        chat.proc.wait(20)
    assert chat.returncode == 130, chat.log
    assert "Traceback" not in chat.log
