"""What a search gives back: a `Passage` (a chunk of a knowledge file, or of an owner's own
document) with where it came from and how well it matched, and which of its front matter fits
the owner asking (`matched_preferences`). It knows nothing of how passages are found.
"""

from __future__ import annotations

from dataclasses import dataclass

Preferences = dict[str, tuple[str, ...]]  # front-matter field -> the values that fit the owner


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk with where it came from and how well it matched (cosine, 0–1)."""

    text: str
    path: str
    title: str
    heading: str
    score: float
    topic: str = ""
    tags: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    chunk_index: int = 0
    kind: str = "knowledge"  # or "document": from the asking owner's own document (`owner_documents`)
    page: int = 0  # a document passage's page (1, 2, …; 0: not known)
    language: str = ""  # a knowledge passage's language (front matter `language`, "en" by default); "" unknown
    fused: float | None = None  # hybrid search's fused score (cosine + lexical share), for ordering only
    intro: bool = False  # from the text under a file's title (what the file covers), not from a section

    @property
    def is_document(self) -> bool:
        return self.kind == "document"

    @property
    def section(self) -> str:
        """The heading below the title, for a compact 'title › section' label."""
        parts = [p for p in self.heading.split(" > ") if p and p != self.title]
        return parts[-1] if parts else ""

    def excerpt(self, limit: int = 300) -> str:
        text = " ".join(self.text.split())
        return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def matched_preferences(passage: Passage, prefer: Preferences) -> list[str]:
    """The passage's front-matter values (region, audience, tags) that fit the owner: any of
    `prefer`'s values for that field, compared folded ('Online-Sellers' is 'online sellers',
    which is also how it is returned, to be shown to the owner)."""
    fields = {"region": passage.region, "audience": passage.audience, "tags": passage.tags}
    matched: list[str] = []
    for key, wanted in prefer.items():
        folded = {_folded(value) for value in wanted}
        matched += [v for v in map(_folded, fields.get(key, ())) if v in folded and v not in matched]
    return matched


def _folded(value: str) -> str:
    return " ".join(value.lower().replace("-", " ").split())


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


def passage_from(text: str, meta: dict, score: float, kind: str = "knowledge") -> Passage:
    """A stored chunk (its text and Chroma metadata) as a `Passage`: the knowledge index's, or
    (`kind="document"`) an owner's own document's, which also knows its page."""
    return Passage(
        text=text,
        path=meta["path"],
        title=meta.get("title", ""),
        heading=meta.get("heading", ""),
        score=round(score, 4),
        topic=meta.get("topic", ""),
        tags=_split(meta.get("tags", "")),
        audience=_split(meta.get("audience", "")),
        region=_split(meta.get("region", "")),
        chunk_index=int(meta.get("chunk_index", 0)),
        kind=kind,
        page=int(meta.get("page", 0)),
        language=meta.get("language", "en" if kind == "knowledge" else ""),
        intro=bool(meta.get("intro", False)),
    )
