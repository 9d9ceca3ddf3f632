"""Which embedding models built an index, and whether the configured ones can search it.

Every chunk records the recipe that made it (`bot.knowledge.ingest.Recipe.key`: chunk size,
overlap, headings, the models' fingerprint, the splitter's version, joined by colons), on a
local index and on a Chroma server alike. The models' fingerprint is one per space joined by
"+", the first space's first (`Embeddings.fingerprint`): the first space's vectors fill the
index's first collection, the others a collection each.

A question embedded by one model and compared with another model's vectors finds nothing that
makes sense, and nothing says so: after `EMBEDDING_BACKEND=e5 python ingest.py`, the default
onnx+e5 searched MiniLM questions among e5 vectors and answered "I don't have material on that".
So the retriever compares the recorded models with the configured ones when it opens an index
version (`bot.index.retriever`), and the reloader does before switching to a new one
(`bot.index.reloader`). Searching with fewer spaces than the index keeps (onnx on an onnx+e5
index) is fine; the first space holding another model's vectors, or a space the setting searches
holding another version of its model, is not. A space the setting searches that the index lacks
(onnx+e5 on an onnx index) leaves the questions searched there without passages: a warning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from bot.index.embedder import BaseEmbedder, E5Embedder, Embedder
from bot.index.onnx_model import INT8_FILE, Q8_FILE
from bot.index.spaces import Embeddings

FIX = "run `python ingest.py` to re-embed"


class IndexMismatchError(RuntimeError):
    """The index was embedded with other models than EMBEDDING_BACKEND gives: searching it would
    find nonsense. The message is one line that names both and the fix."""


def recorded_models(recipe: str) -> tuple[str, ...] | None:
    """The fingerprints of the models a recipe key names, the first space's first (None: a
    chunk stored without a recipe, which tells nothing)."""
    parts = recipe.split(":")
    return tuple(parts[3].split("+")) if len(parts) == 5 and parts[3] else None


def mismatch(recipes: Mapping[str, int], embeddings: Embeddings) -> str | None:
    """Why `embeddings` cannot search an index whose files were made with `recipes` ({recipe: files},
    from `KnowledgeIndex.catalog`), or None when they can: when at least half of the files that
    record their models were embedded with models the configured ones can search. (Half, not all:
    a file that turned unreadable keeps its last good chunks, perhaps from an older model.)"""
    built = _built(recipes)
    wanted = _fingerprints(embeddings)
    fits = sum(files for models, files in built.items() if _searchable(models, wanted))
    if fits * 2 >= sum(built.values()):
        return None
    models = built.most_common(1)[0][0]
    setting, name = backend_name(embeddings), _named(models, embeddings)
    if name is None or name == setting:
        other = "+".join(models)
        return f"the index was built with other embedding models ({other}) than EMBEDDING_BACKEND={setting}: {FIX}"
    return f"the index was built with EMBEDDING_BACKEND={name} but the setting is {setting}: {FIX}"


def missing_spaces(recipes: Mapping[str, int], embeddings: Embeddings) -> str | None:
    """A warning when the index (its most files) lacks a space the setting searches some
    questions in (onnx+e5 on an index built with onnx: e5, for questions in other languages)."""
    models = built_models(recipes)
    if models is None:
        return None
    missing = [e for e in embeddings.embedders[1:] if e.fingerprint not in models]
    if not missing:
        return None
    spaces = " and ".join(e.space for e in missing)
    name = _named(models, embeddings) or "other models"
    return (
        f"the index was built with EMBEDDING_BACKEND={name}, without the {spaces} space the setting "
        f"{backend_name(embeddings)} also searches: questions searched there are asked to come back until "
        f"it is built (a first start builds it behind the bot; else {FIX})"
    )


def built_models(recipes: Mapping[str, int]) -> tuple[str, ...] | None:
    """The models most of the index's files were embedded with, the first space's first (None:
    no file records them)."""
    built = _built(recipes)
    return built.most_common(1)[0][0] if built else None


def backend_name(embeddings: Embeddings) -> str:
    """The EMBEDDING_BACKEND these embedders are (`make_embeddings`' inverse): 'onnx+e5'."""
    return "+".join(_name(e) for e in embeddings.embedders)


def _built(recipes: Mapping[str, int]) -> Counter[tuple[str, ...]]:
    built: Counter[tuple[str, ...]] = Counter()
    for recipe, files in recipes.items():
        if models := recorded_models(recipe):
            built[models] += files
    return built


def _fingerprints(embeddings: Embeddings) -> tuple[str, ...]:
    return tuple(e.fingerprint for e in embeddings.embedders)


def _searchable(built: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """The first space holds the first configured model's vectors, and every other space the
    setting searches holds its model's vectors, or is missing (`missing_spaces` warns) but not
    filled by another model (another e5 version, say: the index records no space names, and
    only e5 fills other spaces)."""
    if built[0] != wanted[0]:
        return False
    lacking, others = set(wanted[1:]) - set(built[1:]), set(built[1:]) - set(wanted[1:])
    return not (lacking and others)


def _name(embedder: BaseEmbedder) -> str:
    if isinstance(embedder, E5Embedder):
        return "e5"
    if isinstance(embedder, Embedder):
        variant = {INT8_FILE: "-int8", Q8_FILE: "-q8"}.get(embedder.onnx_file, "") if embedder.backend == "onnx" else ""
        return embedder.backend + variant
    return embedder.space or type(embedder).__name__


def _named(models: tuple[str, ...], embeddings: Embeddings) -> str | None:
    """The EMBEDDING_BACKEND that gives `models`, as far as the installed model files tell (None:
    a model none of them is, such as an older version of one)."""
    paths = {e.model_path for e in embeddings.embedders if isinstance(e, Embedder)} | {None}
    known = {E5Embedder().fingerprint: "e5"}
    for path in paths:
        known[Embedder(path, backend="onnx", onnx_file=INT8_FILE).fingerprint] = "onnx-int8"
        known[Embedder(path, backend="onnx", onnx_file=Q8_FILE).fingerprint] = "onnx-q8"
        known[Embedder(path, backend="onnx").fingerprint] = "onnx"
    names = [known.get(fingerprint) for fingerprint in models]
    return None if None in names else "+".join(names)
