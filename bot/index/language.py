"""Which language a text is in: py3langid, whose model ships inside the package (nothing is
downloaded), ~0.3 ms a question. It decides which embedding space a question is searched in
and which language the advisor's fixed texts are in.

py3langid's model is ~70 MB once unpacked (a byte automaton of 9.8 million transitions and
a table of 100,000 features × 142 languages), and unpacking it takes ~0.5 s. A serving
process reads it instead from an unpacked copy on disk (`unpacked_model`, written once beside
the ONNX exports): the same numbers, so the same answers, but only the entries a question
needs are read (`bot.index.rows`), from the page cache, which every process shares and the
kernel drops under pressure, not the process's own memory."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

MIN_WORDS = 2  # a single word ("ok", "loans") says too little about its language
LAYOUT = 1  # bump when the unpacked files change shape


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return identifier(MODEL_DIR / MODEL_FILE, Path(sys.prefix) / "sme-advisor-langid")


def identifier(shipped: Path, unpacked_root: Path):
    """py3langid's identifier of the model file `shipped`, read from its unpacked copy under
    `unpacked_root`; read into memory, as py3langid does, where that cannot be written."""
    from py3langid.langid import LanguageIdentifier

    try:
        parts = _read_on_demand(unpacked_model(shipped, unpacked_root))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # cannot write it, or a damaged copy
        log.info("language model read into memory (%s)", exc)
        return LanguageIdentifier.from_model_file(shipped, norm_probs=True)
    ptc, pc, classes, nextmove, row, output = parts
    return LanguageIdentifier(ptc, pc, classes, nextmove, output, norm_probs=True, tk_row=row)


def unpacked_model(shipped: Path, root: Path) -> Path:
    """The folder under `root` holding `shipped`'s arrays as raw files, unpacking them the first
    time (into a scratch folder renamed into place: two processes starting at once each get a
    whole copy). It is named by the file's size and time, so an upgraded py3langid gets its own."""
    stat = shipped.stat()
    folder = root / f"{LAYOUT}-{stat.st_size}-{int(stat.st_mtime)}"
    if (folder / "model.json").exists():
        return folder
    from py3langid.modelio import load_model

    ptc, pc, classes, nextmove, row, output = load_model(shipped)
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder.parent))
    import numpy as np

    arrays = {
        "ptc": np.ascontiguousarray(ptc, dtype=np.float16),
        "pc": np.asarray(pc, dtype=np.float32),
        "nextmove": np.frombuffer(nextmove, dtype=np.uint32),
        "row": np.frombuffer(row, dtype=np.uint16),
        "output": np.asarray(output, dtype=np.int32),
    }
    try:
        for name, array in arrays.items():
            array.tofile(scratch / f"{name}.bin")
        shapes = {name: [str(a.dtype), list(a.shape)] for name, a in arrays.items()}
        (scratch / "model.json").write_text(json.dumps({"classes": classes, "arrays": shapes}))
        os.rename(scratch, folder)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)
        if not (folder / "model.json").exists():  # else another process got there first: its copy
            raise
    return folder


def _read_on_demand(folder: Path):
    """The model's parts as py3langid's `LanguageIdentifier` takes them, read from `folder`: the
    feature table's rows a question has (`RowFile`) and the automaton's transitions it walks
    (`Transitions`) are read when needed, from the page cache, so none of the 67 MB stays in
    the process (mapped, a day's questions left ~23 MB of it resident)."""
    import numpy as np

    from bot.index.rows import RowFile

    layout = json.loads((folder / "model.json").read_text())
    arrays = {name: (np.dtype(dtype), shape) for name, (dtype, shape) in layout["arrays"].items()}

    def small(name: str) -> np.ndarray:
        dtype, shape = arrays[name]
        return np.fromfile(folder / f"{name}.bin", dtype=dtype).reshape(shape)

    (ptc_dtype, (features, classes)), (move_dtype, (moves,)) = arrays["ptc"], arrays["nextmove"]
    ptc = RowFile(folder / "ptc.bin", 0, features, np.dtype((ptc_dtype, classes)))
    nextmove = Transitions(RowFile(folder / "nextmove.bin", 0, moves, move_dtype))
    return ptc, small("pc"), layout["classes"], nextmove, small("row").tolist(), small("output").tolist()


class Transitions:
    """The automaton's next-state table, one entry read per byte of the text (~1 µs each)."""

    def __init__(self, rows) -> None:
        self.rows, self._integer = rows, rows.integer

    def __getitem__(self, at: int) -> int:
        return self._integer(at)


@lru_cache(maxsize=4096)
def detect_language(text: str, confidence: float = 0.5) -> str | None:
    """The ISO 639-1 code of `text`'s language ("en", "ru", "zh"…), or None when unsure."""
    if len(text.split()) < MIN_WORDS and not any(ord(c) > 0x2E80 for c in text):  # CJK needs no spaces
        return None
    language, probability = _identifier().classify(text)
    return language if probability >= confidence else None


@lru_cache(maxsize=4096)
def likely_languages(text: str, count: int = 3) -> list[tuple[str, float]]:
    """The `count` likeliest languages of `text` with their probabilities, likeliest first: for
    decisions that can use an unsure guess (a search space) where `detect_language` says None."""
    return [(code, float(p)) for code, p in _identifier().rank(text)[:count]]
