"""The terminal chat follows the index versions ingests publish while it runs, the way the
Telegram bot does: every question answered, the new knowledge used within seconds."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.knowledge import runner
from tests.helpers import ROOT, SAMPLE_CREDIT, SAMPLE_TRADE, write


class Chat:
    """`python -m bot chat` in its own process, asked one question at a time."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "chat"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def ask(self, question: str) -> str:
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, f"the chat ended while answering {question!r}"
            lines.append(line)
            if line.startswith(("(offline answer", "(llm answer")):
                return "".join(lines)

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(60)


def test_the_terminal_chat_keeps_answering_while_ingests_replace_its_index(settings, kdir):
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    runner.run_ingest(settings)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "TELEGRAM_"))},
        "KNOWLEDGE_DIR": str(kdir),
        "DATA_DIR": str(settings.data_dir),
    }
    chat = Chat(env)
    try:
        answers = []
        for round in range(5):  # five new versions: the one the chat started on is long deleted
            note = f"\n\n## Shipping note {round}\n\nShip pallet {round} by sea.\n"
            write(kdir, "trade/export.md", SAMPLE_TRADE + note)
            runner.run_ingest(settings)
            answers += [chat.ask("Can I borrow without collateral?"), chat.ask("How do I pick an export market?")]
        assert all("Sources:" in a and "collateral" in a.lower() for a in answers[0::2]), answers
        assert all("Sources:" in a and "export" in a.lower() for a in answers[1::2]), answers
        assert "pallet 4" in chat.ask("Which pallet ships by sea in shipping note 4?")
    finally:
        assert chat.close() == 0
    assert sorted(p.name for p in (settings.index_path / "versions").iterdir()) == ["4", "5", "6"]
