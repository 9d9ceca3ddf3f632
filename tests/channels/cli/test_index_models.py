"""`ask`, `eval` and `chat` on an index embedded with other models than EMBEDDING_BACKEND gives: one
line that names both settings and the fix, and a non-zero exit, until an ingest re-embeds it."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import SAMPLE_CREDIT, SAMPLE_TRADE, invoke, run_cli, write

QUESTION = "How do I get credit without collateral?"
EVAL = """
- question: "Can I borrow without collateral?"
  files: [credit/collateral.md]
"""


def refusal(built: str, setting: str) -> str:
    return (
        f"error: the index was built with EMBEDDING_BACKEND={built} but the setting is {setting}: "
        "run `python ingest.py` to re-embed"
    )


@pytest.fixture
def env(kdir, tmp_path) -> dict:
    """Two small knowledge files (e5 embeds ~8 passages a second: a few, not the whole knowledge/)."""
    write(kdir, "credit/collateral.md", SAMPLE_CREDIT)
    write(kdir, "trade/export.md", SAMPLE_TRADE)
    return {"KNOWLEDGE_DIR": str(kdir), "DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize(("built", "setting"), [("e5", "onnx+e5"), ("onnx+e5", "e5")])
def test_ask_refuses_an_index_built_with_another_backend_until_it_is_re_embedded(env, built, setting):
    assert invoke("ingest", env={**env, "EMBEDDING_BACKEND": built}).returncode == 0

    refused = run_cli("ask", QUESTION, env={**env, "EMBEDDING_BACKEND": setting})
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == refusal(built, setting) + "\n"  # that line alone: no traceback, no "not covered"

    ingest = invoke("ingest", env={**env, "EMBEDDING_BACKEND": setting})
    assert ingest.returncode == 0, ingest.stderr
    answered = run_cli("ask", "--json", QUESTION, env={**env, "EMBEDDING_BACKEND": setting})
    assert answered.returncode == 0, answered.stderr
    payload = json.loads(answered.stdout)
    assert payload["covered"] and payload["sources"][0]["path"] == "credit/collateral.md"


def test_eval_and_a_chat_that_cannot_re_embed_say_so_in_one_line(env, kdir, tmp_path):
    write(kdir, "eval/questions.yaml", EVAL)
    assert invoke("ingest", env={**env, "EMBEDDING_BACKEND": "e5"}).returncode == 0

    evaluated = invoke("eval", env=env)  # the default backend, onnx-q8+e5
    assert evaluated.returncode == 2 and evaluated.stdout == ""
    assert evaluated.stderr.strip() == refusal("e5", "onnx-q8+e5")

    # chat re-embeds at start; when its ingest cannot (the knowledge dir is gone), it answers nothing
    chatted = invoke("chat", env={**env, "KNOWLEDGE_DIR": str(tmp_path / "gone")}, input=QUESTION + "\n")
    assert chatted.returncode == 2 and chatted.stdout == ""
    assert chatted.stderr.strip().splitlines()[-1] == refusal("e5", "onnx-q8+e5")


def test_a_damaged_model_export_is_named_in_one_line_with_its_fix(env, tmp_path):
    """An export cut short (a full disk, a copied folder): `ask` names the file and the command
    that makes it again, instead of a traceback from ONNX Runtime."""
    from bot.index import E5Embedder, Embedder
    from bot.index.e5_model import ENCODER_FILE

    assert invoke("ingest", env=env).returncode == 0
    folder = tmp_path / "onnx"  # ONNX_MODEL_DIR: MiniLM's export as setup made it, e5's damaged
    shutil.copytree(Embedder(backend="onnx").onnx_dir, folder)
    (folder / "e5").mkdir()
    (folder / "e5" / ENCODER_FILE).write_bytes((E5Embedder().onnx_dir / ENCODER_FILE).read_bytes()[:100_000])

    refused = run_cli("ask", "¿Cómo consigo crédito sin garantía?", env={**env, "ONNX_MODEL_DIR": str(folder)})
    assert refused.returncode == 2 and refused.stdout == ""
    assert "Traceback" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: cannot load the embedding model {folder / 'e5' / ENCODER_FILE} (")
    assert line.endswith("export it again with `python -m bot export-onnx --force`")


def test_a_first_use_export_into_a_read_only_folder_is_named_in_one_line(env, tmp_path):
    """No export yet and an ONNX_MODEL_DIR the bot may not write: one line with the folder and
    the fix (checked without root's power to write anywhere)."""
    folder = tmp_path / "onnx"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        refused = run_cli(
            "ingest", env={**env, "ONNX_MODEL_DIR": str(folder), "EMBEDDING_BACKEND": "e5", "EMBEDDING_CACHE": "false"},
            unprivileged=True,
        )
    finally:
        folder.chmod(0o755)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert line == (
        f"error: cannot export the embedding model to {folder / 'e5'} (Permission denied): make that folder "
        "writable, or set ONNX_MODEL_DIR to one that is"
    )


def test_setup_splits_the_word_table_off_an_export_made_before(env, tmp_path):
    """`export-onnx` (what setup runs) on an export from before the split writes the graph
    without the word table and the table beside it, without exporting again (no torch); a
    second run finds it done."""
    from bot.index import E5Embedder, Embedder
    from bot.index.onnx_model import ONNX_FILE, Q8_FILE, SPLIT_FILE, WORDS_FILE

    folder = tmp_path / "onnx"
    folder.mkdir()
    for name in ("tokenizer.json", "pooling.json", ONNX_FILE, "model.int8.onnx"):
        shutil.copy(Embedder(backend="onnx").onnx_dir / name, folder / name)
    shutil.copytree(E5Embedder().onnx_dir, folder / "e5")
    first = invoke("export-onnx", "--int8", env={**env, "ONNX_MODEL_DIR": str(folder)})
    assert first.returncode == 0, first.stderr
    assert f"split the word table off the export at {folder}" in first.stdout
    assert f"wrote the 8-bit copy of the export at {folder}" in first.stdout
    assert (folder / SPLIT_FILE).exists() and (folder / WORDS_FILE).exists() and (folder / Q8_FILE).exists()
    again = invoke("export-onnx", "--int8", env={**env, "ONNX_MODEL_DIR": str(folder)})
    assert f"ONNX export already at {folder}\n" in again.stdout
