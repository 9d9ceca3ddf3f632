"""The answer composed without an LLM: the best passage, said well, and what else is relevant.

This is what every owner sees until an LLM is configured, and the fallback afterwards, so it
has to read like advice, not like search results:

1. **Which file answers.** Files are ranked by their best passage plus a share of their
   second best (a file that matches in two sections is likelier the topic), and the lead
   passage is the leading file's best one.
2. **The lead.** Its most relevant sentences and list items, in their original order and
   with their Markdown (bold, lists), as one paragraph; a list keeps the sentence that
   introduces it (finished from the next chunk when the splitter cut it), and the lead never
   opens with an example, a caption, a question or a list fragment.
3. **Also relevant.** One sentence from each of the next two files, as a short list.

Every passage is cited once, numbered in order of first use (`[1]`, `[2]` for the knowledge
base; `[D1]`, `[D2]` for the owner's own documents, numbered apart); the answer stays under ~180
words, repeats no line, and is never empty. Lines that address the reader as instructions
("SYSTEM:", "ignore previous instructions", "transfer the fee to IBAN…") are never quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bot.advisor import texts
from bot.advisor.units import Unit, balanced, is_instruction, units_of
from bot.index.embedder import BaseEmbedder as Embedder
from bot.index.retriever import Passage, Preferences, matched_preferences
from bot.locales import Translate

LEAD_WORDS = 100  # the lead paragraph's budget (a list it introduces may take LIST_ALLOWANCE more)
LEAD_MIN_WORDS = 40  # a lead shorter than this takes the next most relevant units too
LIST_ALLOWANCE = 30
ALSO_FILES = 2  # other files named under "Also relevant"
ALSO_WORDS = 25  # per "Also relevant" line
ANSWER_WORDS = 180  # the whole answer's budget: "Also relevant" lines go, last first, to keep it
ALSO_MARGIN = 0.15  # files whose best passage scores this far below the leading file's are not relevant
SECOND_PASSAGE_SHARE = 0.2  # how much a file's second-best passage adds to its rank
INTRO_MARGIN = 0.12  # a section this close to the file's introduction leads instead of it
RELEVANCE_DROP = 0.12  # lead units this far below the best unit are left out
MAX_CONTINUATIONS = 3  # following chunks read to finish a list the splitter cut

_META = re.compile(r"\bthis (?:file|guide|folder|document)\b|\bsee also\b|\.md\b", re.IGNORECASE)
_NOT_AN_OPENER = re.compile(
    r"^\W*(?:example|for example|for instance|e\.g\.|case study|worked example|figure|fig\.|table|source|"
    r"photo|image|note)\b",
    re.IGNORECASE,
)
_DANGLING = re.compile(r"^(?:it|this|that|these|those|they|he|she|but|and|so|also|however)\b", re.IGNORECASE)
@dataclass(frozen=True)
class Composed:
    text: str
    cited: list[Passage]


def compose(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    next_passage: Callable[[Passage], Passage | None] | None = None,
    prefer: Preferences | None = None,
    _: Translate = str,
) -> Composed:
    """The offline answer to `question` from the retrieved `passages` (best first).

    `next_passage` lets a list that the splitter cut at a chunk's end be finished from the
    following chunk of the same file. `prefer` is the owner's profile as front-matter values
    (region, audience, tags): when the lead passage is written for them, the answer says so.
    """
    question_vector = embedder.embed_query(question)
    files = rank_files(passages)
    if not files:
        return Composed("", [])
    lead = _lead_passage(files[0])
    lead_text = _lead(lead, question_vector, embedder, next_passage)
    if not lead_text:
        return _excerpt_of_best([p for ps in files for p in ps])
    cited = [lead]
    text = f"{lead_text} {citation(cited)}"
    fits = matched_preferences(lead, prefer or {})
    if fits:  # only where the passage's front matter supports it
        text = f"{texts.for_a_business_like_yours(_, fits)}\n\n{text}"
    nearby = [ps[0] for ps in files[1:] if ps[0].score >= files[0][0].score - ALSO_MARGIN]
    also = _also_relevant(nearby, question_vector, embedder, set(lead_text.splitlines()))
    heading_words = len(texts.also_relevant(_).split())
    while also and len(text.split()) + heading_words + sum(len(s.split()) + 2 for _, s in also) > ANSWER_WORDS:
        also.pop()  # each line is "- sentence [n]"
    if also:
        bullets = []
        for passage, sentence in also:
            cited.append(passage)
            bullets.append(f"- {sentence} {citation(cited)}")
        text += f"\n\n**{texts.also_relevant(_)}**\n" + "\n".join(bullets)
    return Composed(text, cited)


def citation(cited: list[Passage]) -> str:
    """The citation of the last of `cited`: `[n]` counting knowledge passages, `[Dn]` counting
    the owner's document passages (numbered as `answer.numbered_sources` numbers them)."""
    kind = cited[-1].is_document
    number = sum(1 for passage in cited if passage.is_document == kind)
    return f"[D{number}]" if kind else f"[{number}]"


def _lead_passage(group: list[Passage]) -> Passage:
    """The file's best passage, unless that is the file's introduction (the text under its
    title, usually a summary of what the file covers) and a section nearly as good exists; or
    unless it continues a section whose opening was found nearly as good: a section opens with
    its answer ("Selling cross-border lets a small firm…, it suits you if:"), and an answer
    that starts from the section's later caveats ("Think twice if:") reads as a warning, not as
    advice. The rest of the section still follows, through `next_passage`."""
    best = group[0]
    if not best.section:
        return next((p for p in group[1:] if p.section and p.score >= best.score - INTRO_MARGIN), best)
    openings = [
        p
        for p in group[1:]
        if p.section == best.section and p.chunk_index < best.chunk_index and p.score >= best.score - INTRO_MARGIN
    ]
    return min(openings, key=lambda p: p.chunk_index, default=best)


def rank_files(passages: list[Passage]) -> list[list[Passage]]:
    """The passages grouped by file (best passage first), files ranked by their best passage's
    score plus SECOND_PASSAGE_SHARE of their second best's. Passages repeating another's text go."""
    by_file: dict[str, list[Passage]] = {}
    seen: set[str] = set()
    for passage in passages:
        if passage.text in seen:
            continue
        seen.add(passage.text)
        by_file.setdefault(passage.path, []).append(passage)

    def rank(group: list[Passage]) -> float:
        second = group[1].relevance if len(group) > 1 else 0.0
        return group[0].relevance + SECOND_PASSAGE_SHARE * second

    return sorted(by_file.values(), key=lambda group: -rank(group))


# --------------------------------------------------------------------------- the lead


def _lead(
    passage: Passage,
    question_vector: np.ndarray,
    embedder: Embedder,
    next_passage: Callable[[Passage], Passage | None] | None,
) -> str:
    """The lead passage's most relevant units, in order, as Markdown."""
    units = [u for u in units_of(passage.text) if not _META.search(u.text)]
    if not units:
        return ""
    similarity = embedder.embed([u.plain for u in units]) @ question_vector
    relevance = similarity + np.array([0.03 if u.position == 0 else 0.0 for u in units])
    relevance -= np.array([0.06 if _DANGLING.match(u.plain) else 0.0 for u in units])
    relevance -= np.array([0.1 if not _opens_well(u) else 0.0 for u in units])
    chosen = _choose(units, relevance)
    chosen = _with_lists_whole(chosen, units, passage, next_passage)
    return _render(_trim_openers(chosen))


def _opens_well(unit: Unit) -> bool:
    return not (_NOT_AN_OPENER.match(unit.plain) or unit.plain.endswith("?"))


def _choose(units: list[Unit], relevance: np.ndarray) -> list[Unit]:
    """The most relevant units, in their original order: all within RELEVANCE_DROP of the best,
    and more, most relevant first, until the lead says enough (LEAD_MIN_WORDS) or the budget
    (LEAD_WORDS) is spent."""
    best = float(relevance.max())
    picked: list[Unit] = []
    words = 0
    for i in np.argsort(-relevance):
        unit = units[int(i)]
        if relevance[int(i)] < best - RELEVANCE_DROP and words >= LEAD_MIN_WORDS:
            break
        if words + unit.words > LEAD_WORDS and picked:
            continue
        picked.append(unit)
        words += unit.words
    return sorted(picked, key=lambda u: u.position)


def _with_lists_whole(
    chosen: list[Unit], units: list[Unit], passage: Passage, next_passage: Callable[[Passage], Passage | None] | None
) -> list[Unit]:
    """A list is quoted whole: a chosen item brings the sentence introducing its list and the
    other items; a chosen lead-in brings its items (within LIST_ALLOWANCE), finished from the
    next chunk when the list runs to the end of this one."""
    picked = {u.position: u for u in chosen}
    words = sum(u.words for u in chosen)
    for block in sorted({u.block for u in chosen if u.is_item or u.lead_in}):
        members = [u for u in units if u.block == block]
        lead_in = next((u for u in members if u.lead_in), None)
        if lead_in is not None:
            picked.setdefault(lead_in.position, lead_in)
        items = [u for u in members if u.is_item]
        if members[-1] == units[-1] and next_passage is not None:  # the splitter may have cut the list
            items += _continued_items(passage, next_passage, start=units[-1].position + 1, block=block)
        for item in items:
            if item.position not in picked and words + item.words <= LEAD_WORDS + LIST_ALLOWANCE:
                picked[item.position] = item
                words += item.words
    return [picked[p] for p in sorted(picked)]


def _continued_items(
    passage: Passage, next_passage: Callable[[Passage], Passage | None], start: int, block: int
) -> list[Unit]:
    """The list items at the start of the following chunks (a long list may span several),
    minus those repeated by the chunk overlap."""
    continued: list[Unit] = []
    seen = {u.text for u in units_of(passage.text)}
    for _ in range(MAX_CONTINUATIONS):
        following = next_passage(passage)
        if following is None:
            break
        for unit in units_of(following.text):
            if not unit.is_item:
                return continued
            if unit.text not in seen:
                seen.add(unit.text)
                position = start + len(continued)
                continued.append(Unit(position, unit.text, unit.marker, False, block))
        passage = following
    return continued


def _trim_openers(chosen: list[Unit]) -> list[Unit]:
    """Never open with an example, a caption, a question or a list fragment: such leading units
    go while something else is left, and a list without its introduction follows the first
    sentence instead of opening the answer."""
    kept = list(chosen)
    while len(kept) > 1 and not _opens_well(kept[0]):
        dropped = kept.pop(0)
        if _NOT_AN_OPENER.match(dropped.plain):  # an example's paragraph goes with it
            rest = [u for u in kept if u.block != dropped.block]
            kept = rest or kept
    if kept and kept[0].is_item:
        prose = next((u for u in kept if not u.is_item), None)
        if prose is not None:
            kept = [prose] + [u for u in kept if u is not prose]
    return kept


def _render(units: list[Unit]) -> str:
    """Sentences of a paragraph joined, list items on their own lines with their markers."""
    lines: list[str] = []
    previous: Unit | None = None
    for unit in units:
        if unit.is_item:
            lines.append(f"{unit.marker} {unit.text}")
        elif lines and previous is not None and not previous.is_item and previous.block == unit.block:
            lines[-1] += " " + unit.text
        else:
            lines.append(unit.text)
        previous = unit
    return "\n".join(lines)


# --------------------------------------------------------------------------- also relevant


def _also_relevant(
    passages: list[Passage], question_vector: np.ndarray, embedder: Embedder, said: set[str]
) -> list[tuple[Passage, str]]:
    """One line for each of the next files: the most relevant short sentence of its best
    passage (or list item, shortened if need be), else where to read on ("Title › Section")."""
    found: list[tuple[Passage, str]] = []
    for passage in passages[:ALSO_FILES]:
        units = [
            u
            for u in units_of(passage.text)
            if not u.lead_in and not _META.search(u.text) and not _NOT_AN_OPENER.match(u.plain)
            and not u.plain.endswith("?") and f"{u.marker} {u.text}".strip() not in said and u.text not in said
        ]
        if units:
            similarity = embedder.embed([u.plain for u in units]) @ question_vector
            similarity -= np.array([0.05 if u.is_item else 0.0 for u in units])  # a sentence stands alone better
            line = _shortened(units[int(np.argmax(similarity))].text)
        else:
            line = f"*{passage.title} › {passage.section}*" if passage.section else f"*{passage.title}*"
        said.add(line)
        found.append((passage, line))
    return found


def _shortened(text: str) -> str:
    words = text.split()
    if len(words) <= ALSO_WORDS:
        return text
    return balanced(" ".join(words[:ALSO_WORDS]).rstrip(",;:") + "…")


def _excerpt_of_best(passages: list[Passage]) -> Composed:
    """When no sentence stands on its own (a table, short list items), the best passage itself,
    shortened: an answer is never empty."""
    for passage in passages:
        lines, size = [], 0
        for line in passage.text.splitlines():
            if line.strip() and not is_instruction(line) and size + len(line) <= 600:
                lines.append(line.rstrip())
                size += len(line)
        if lines:
            return Composed("\n".join(lines) + " " + citation([passage]), [passage])
    return Composed("", [])
