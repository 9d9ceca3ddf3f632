"""The embedding spaces an index keeps, and which one a question is searched in.

EMBEDDING_BACKEND `onnx-q8+e5` (the default) keeps two: all-MiniLM-L6-v2, best on English
(recall@1 0.82 on the English eval against e5's 0.76), and multilingual-e5-small, which
finds the English passages for questions in other languages (recall@5 0.98 where MiniLM
manages 0.33). A question is searched with MiniLM when it is English (or too short to tell
but plain ASCII) and the knowledge base is English, and with e5 otherwise. Every chunk is embedded in both spaces.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

from bot.config import Settings
from bot.index.cache import default_cache_dir
from bot.index.embedder import BaseEmbedder, E5Embedder, Embedder
from bot.index.language import detect_language, likely_languages
from bot.index.onnx_model import INT8_FILE, ONNX_FILE, Q8_FILE


class Embeddings:
    """The embedders of an index's spaces, the first being the one whose collection records what
    the index holds."""

    def __init__(self, *embedders: BaseEmbedder) -> None:
        self.embedders = list(embedders)
        self.primary = self.embedders[0]
        self._beside: ThreadPoolExecutor | None = None  # `embed_question`'s second model, made at first use

    def embed_question(self, question: str, embedders: list[BaseEmbedder]) -> dict[str, np.ndarray]:
        """`question` embedded by each of `embedders` (keyed by space), at the same time where
        there are cores to spare: an English question's two models (MiniLM ~7 ms, e5 ~16 ms)
        then take the time of the slower. The others run in a pool of several threads, so
        questions asked at once are still embedded together (`QueryBatcher`)."""
        if len(embedders) < 2 or _cores() < 2 or not all(e.runs_in_threads for e in embedders):
            return {e.space: e.embed_query(question) for e in embedders}
        if self._beside is None:
            self._beside = ThreadPoolExecutor(8, thread_name_prefix="embed-beside")
        others = [self._beside.submit(e.embed_query, question) for e in embedders[1:]]
        first = embedders[0].embed_query(question)
        vectors = [first, *(future.result() for future in others)]
        return {e.space: vector for e, vector in zip(embedders, vectors, strict=True)}

    @property
    def fingerprint(self) -> str:
        """All spaces' models: changing any of them re-embeds the knowledge base."""
        return "+".join(e.fingerprint for e in self.embedders)

    @property
    def loaded(self) -> bool:
        return any(e.loaded for e in self.embedders)

    @property
    def batch_size(self) -> int:
        return self.primary.batch_size

    @property
    def multilingual(self) -> BaseEmbedder:
        """The model that compares texts across languages (the first, when there is none)."""
        return next((e for e in self.embedders if isinstance(e, E5Embedder)), self.primary)

    @property
    def token_counter(self) -> Callable[[str], int] | None:
        """The multilingual model's token count, when the index keeps its space (None: none)."""
        e5 = self.multilingual
        return e5.count_tokens if isinstance(e5, E5Embedder) else None

    def space_of(self, embedder: BaseEmbedder) -> str | None:
        """The name `KnowledgeIndex.query` knows the embedder's space by (None: the first)."""
        return None if embedder is self.primary else embedder.space

    def embed_everywhere(self, texts: list[str], questions: bool = False) -> dict[str | None, np.ndarray]:
        """`texts` in every space, keyed as `space_of` names them (`questions`: embedded as
        questions, see `BaseEmbedder.embed`)."""
        return self.embed_kinds([texts], [questions])[0]

    def embed_kinds(
        self, kinds: list[list[str]], questions: list[bool], on_work: Callable[[float], None] | None = None
    ) -> list[dict[str | None, np.ndarray]]:
        """Several lists of texts (passages, questions: `questions` says which) in every space,
        at once, as `embed_everywhere` gives each.

        Many texts are cut into slices (longest texts first, so a slice pads little), and a
        thread per core takes the next slice of either model, the most work first, each model
        running one thread per forward pass: on 2 cores that embeds the starter library ~20%
        faster than each model in turn on both cores, whose threads wait on each other at every
        step of a pass (bench/ingest_bench.py). A few texts (an owner's question) go to each
        model in turn. `on_work` hears the share of the whole work each finished part was (a
        progress line that moves while a group of passages is embedded, not only after)."""
        workers = _cores()
        total = sum(len(texts) for texts in kinds)
        if workers < 2 or total <= QUESTION_SLICE or not all(e.runs_in_threads for e in self.embedders):
            vectors = [
                {self.space_of(e): e.embed(texts, questions=asked) for e in self.embedders}
                for texts, asked in zip(kinds, questions, strict=True)
            ]
            if on_work is not None:
                on_work(1.0)
            return vectors
        jobs = []  # (estimated work, embedder, kind, the texts' numbers)
        for kind, (texts, asked) in enumerate(zip(kinds, questions, strict=True)):
            size = QUESTION_SLICE if asked else PASSAGE_SLICE
            order = sorted(range(len(texts)), key=lambda n: -len(texts[n]))
            for start in range(0, len(texts), size):
                part = order[start : start + size]
                work = sum(len(texts[n]) + 40 for n in part)  # ~tokens, and a text's fixed cost
                jobs += [(e.cost * work, e, kind, part) for e in self.embedders]
        jobs.sort(key=lambda job: -job[0])
        for embedder in self.embedders:
            embedder.one_thread_per_pass()

        def run(job):
            _, embedder, kind, part = job
            return embedder.embed([kinds[kind][n] for n in part], questions=questions[kind])

        all_work = sum(job[0] for job in jobs) or 1.0
        with ThreadPoolExecutor(workers, thread_name_prefix="embed") as pool:
            running = {pool.submit(run, job): job for job in jobs}
            for finished in as_completed(running):
                if on_work is not None and finished.exception() is None:
                    on_work(running[finished][0] / all_work)
            done = [future.result() for future in running]
        vectors: list[dict[str | None, np.ndarray]] = [{} for _ in kinds]
        for (_, embedder, kind, part), block in zip(jobs, done, strict=True):
            space = self.space_of(embedder)
            if space not in vectors[kind]:
                vectors[kind][space] = np.zeros((len(kinds[kind]), block.shape[1]), dtype=np.float32)
            vectors[kind][space][part] = block
        return vectors

    def for_question(self, question: str, languages: Iterable[str] = ("en",)) -> BaseEmbedder:
        """The embedder to search `question` with: MiniLM for English questions over an English
        knowledge base, the multilingual model for anything else (when the index has one)."""
        if self.multilingual is self.primary:
            return self.primary
        return self.primary if reads_as_english(question) and set(languages) <= {"en"} else self.multilingual

    def serve_queries(self) -> None:
        """Tune for a serving process, which answers one question at a time per thread: each
        model on one thread, and numpy's BLAS on one (its idle threads spin, waiting for more
        work: scoring every section against a question on two threads cost twice the CPU
        for nothing, and the spinning slowed the embedding after it)."""
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        for embedder in self.embedders:
            embedder.serve_queries()


PASSAGE_SLICE, QUESTION_SLICE = 64, 256  # texts a thread embeds at a time: a few seconds' work


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def reads_as_english(question: str) -> bool:
    """Whether MiniLM reads `question` best: English even when py3langid is unsure ("cash flow
    tips"; English is the likeliest, or second to an English creole), and text too short to
    tell if written in plain ASCII ("loans?"). A likely other language in three words or more
    ("Como exportar para a Argentina?": Portuguese at 0.37) goes to the multilingual model."""
    if detect_language(question) == "en":
        return True
    ranked = likely_languages(question)
    top, probability = ranked[0]
    if top == "en" or (top in ENGLISH_CREOLES and "en" in dict(ranked)):
        return True
    if probability >= UNSURE and len(question.split()) >= 3:
        return False
    return question.isascii()


ENGLISH_CREOLES = {"pcm", "sco"}  # py3langid's near-English labels (Nigerian Pidgin, Scots)
UNSURE = 0.3  # a language this likely, in a sentence, is not a misread English phrase


def make_embeddings(settings: Settings) -> Embeddings:
    """EMBEDDING_BACKEND: onnx-q8+e5 (default), onnx+e5, onnx-int8+e5, onnx, onnx-q8, onnx-int8,
    torch (MiniLM only), e5 (e5 only)."""
    embedders: list[BaseEmbedder] = []
    for part in settings.embedding_backend.split("+"):
        backend, _, variant = part.partition("-")
        if backend == "e5":
            embedders.append(make_e5(settings))
        else:
            onnx_file = {"int8": INT8_FILE, "q8": Q8_FILE}.get(variant, ONNX_FILE)
            model, batch = settings.embedding_model, settings.embedding_batch_size
            embedders.append(Embedder(model, batch, backend, settings.onnx_model_dir, onnx_file))
    if settings.embedding_cache:
        folder = settings.embedding_cache_dir or default_cache_dir()
        for embedder in embedders:
            embedder.use_cache(folder)
    return Embeddings(*embedders)


def make_e5(settings: Settings) -> E5Embedder:
    """multilingual-e5-small, its ONNX export in ONNX_MODEL_DIR/e5 when that is set."""
    folder = settings.onnx_model_dir / "e5" if settings.onnx_model_dir else None
    return E5Embedder(settings.embedding_batch_size, folder)


def make_embedder(settings: Settings) -> BaseEmbedder:
    """The index's first embedding model (in `onnx-q8+e5`: MiniLM on ONNX, in 8-bit blocks)."""
    return make_embeddings(settings).primary
