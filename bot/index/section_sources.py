"""Where an index version's sections get their records and vectors from, when it is built.

`SectionIndex.load` reads every chunk and section question with its vector in every space. Out
of Chroma that took ~2.5 s of a one-file re-ingest's ~6: `Reused` takes the records of unchanged
files from the saved sections of the version before (`rows.json` says which row is which
record, and which recipe made it) and only the rest out of Chroma.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FOLDER = "sections"  # in an index version's folder, beside the BM25 part
ROWS = "rows.json"  # in FOLDER: each space's rows' record ids, and the recipe of their vectors


def has_sections(folder: Path) -> bool:
    return (folder / FOLDER / "sections.json").exists()


def question_records(sections, space, recipe: str) -> dict[str, list]:
    """Each question's text and the metadata `SectionIndex.load` reads of it, by id, for the
    next version (`Reused`): its section's path and heading, and the recipe."""
    records = {}
    for id_, text, number in zip(space.question_ids, space.question_texts, space.question_section, strict=True):
        section = sections[int(number)]
        records[id_] = [text, {"path": section.path, "heading": section.heading, "recipe": recipe}]
    return records


class FromChroma:
    """Every record and its vector as the index's collections hold them."""

    def __init__(self, index) -> None:
        self.index = index

    def records(self, questions: bool, space: str | None, name: str):
        return self.index.all_vectors(questions=questions, space=space)


class Reused:
    """Every record the index's collections hold, with its vector (and a question's text) read
    from an earlier version's saved sections when that version holds the same record (its id
    says its file's content) made by the same recipe (model, chunking), else out of Chroma.
    Every space holds the same records, so each kind is listed once; a record a space lacks is
    left out of that space."""

    def __init__(self, index, earlier: Path, chunks: tuple | None = None) -> None:
        self.index = index
        self.folder = earlier / FOLDER
        rows = self.folder / ROWS
        self.rows = json.loads(rows.read_text(encoding="utf-8")) if rows.exists() else {}
        self._records: dict[bool, tuple] = {False: chunks} if chunks else {}

    def records(self, questions: bool, space: str | None, name: str):
        saved = self.rows.get(name, {})
        kind = "questions" if questions else "chunks"
        known = {id_: row for row, id_ in enumerate(saved.get(kind, []))}
        if questions not in self._records:
            self._records[questions] = self._questions(space) if questions else self.index.all_records(False, space)
        ids, texts, metas = self._records[questions]
        matrix = np.load(self.folder / f"{name}.{kind}.npy", mmap_mode="r") if known else None
        if matrix is not None and len(matrix) != len(known):
            raise ValueError(f"{name}.{kind}.npy has {len(matrix)} rows, {ROWS} names {len(known)}")
        vectors: dict[str, np.ndarray] = {}
        for id_, meta in zip(ids, metas, strict=True):
            if id_ in known and saved.get("recipe") and meta.get("recipe") == saved["recipe"]:
                vectors[id_] = matrix[known[id_]]
        vectors |= self.index.vectors_of([i for i in ids if i not in vectors], questions=questions, space=space)
        present = [n for n, id_ in enumerate(ids) if id_ in vectors]
        if not present:
            return [], [], [], np.zeros((0, 0), dtype=np.float32)
        stacked = np.stack([vectors[ids[n]] for n in present]).astype(np.float32)
        return [ids[n] for n in present], [texts[n] for n in present], [metas[n] for n in present], stacked

    def _questions(self, space: str | None) -> tuple[list[str], list[str], list[dict]]:
        """The questions' ids (listing them is cheap), their texts and metadata from the earlier
        version's rows where it has them (reading them all out of Chroma took ~1 s), the rest
        from Chroma."""
        ids = self.index.all_records(True, space, ids_only=True)[0]
        earlier = next(iter(self.rows.values()), {}).get("question_records", {})
        unknown = [id_ for id_ in ids if id_ not in earlier]
        fetched = self.index.records_of(unknown, questions=True, space=space)
        found = [(id_, fetched.get(id_) or earlier.get(id_)) for id_ in ids]
        found = [(id_, record) for id_, record in found if record]
        return [id_ for id_, _ in found], [record[0] for _, record in found], [record[1] for _, record in found]
