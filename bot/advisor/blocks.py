"""A section's text as an owner reads it: paragraphs and whole lists, in order, in plain words.

The offline answer quotes a section's opening, and the Sources button shows a readable excerpt
of it; both read the section through `blocks_of`:

- a **paragraph** is quoted whole or cut after a whole sentence; a paragraph that introduces a
  list (it ends with ":") never goes without its list;
- a **list** is one block: its items are never split up, never renumbered, and a step is never
  dropped ("1. 2. 3. 4. 6." is what a sentence picker does to a list);
- headings and code are left out, and so is any line that addresses the reader as instructions
  ("SYSTEM:", "ignore previous instructions", "transfer the fee to IBAN…"); a table is read as a
  list;
- a **cross-reference** to another knowledge file ("read credit/when-not-to-borrow.md first",
  "(see strategy/scenario-planning.md)", a Markdown link to a `.md` file) becomes that file's
  title: an owner has no use for a path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_CHECKBOX = re.compile(r"^(\s*(?:[-*+•]|\d+[.)])\s+)\[[ xX]\]\s+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_PATH = re.compile(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b")
_SEE_PATH = re.compile(r"\s*\((?:see(?: also)?\s+)?((?:[\w-]+/)*[\w-]+\.md)[^)]*\)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]*]*\s+(?=[*_]*[A-Z0-9\"'(])")
_SEE_TITLE = re.compile(r"\s*\(see [^)]*\)")  # "(see *Invoice finance*)": left out of a shortened list
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_EMPHASIS = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])|(?<![_\w])_(?!\s)(.+?)(?<!\s)_(?![_\w])")
_CODE = re.compile(r"`([^`]+)`")

Titles = Callable[[str], str | None]  # a knowledge file's path -> its title (None: not in the index)

# Lines that speak to the reader as instructions (a system prompt, a request to ignore rules, a
# request to pay or send credentials): passages are other people's text, so none is ever quoted
# as advice.
_INSTRUCTION = re.compile(
    r"^\W*(?:system|assistant|user|developer)\s*:"
    r"|\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|rules|prompts?|everything above)\b"
    r"|\byou are now\b|\bact as\b.{0,40}\b(?:assistant|admin|system)\b"
    r"|^\W*(?:please\s+)?(?:send|transfer|wire|pay|deposit)\b.{0,80}"
    r"\b(?:iban|bitcoin|btc|crypto|wallet|gift cards?|account (?:number|no\.?)|bank details)\b"
    r"|\b(?:send|share|reply with|tell us|give us|enter)\b.{0,20}\byour\b.{0,20}"
    r"\b(?:password|pin|one-time code|verification code|card number)s?\b",
    re.IGNORECASE,
)


def is_instruction(text: str) -> bool:
    """Does this line address the reader as instructions (see _INSTRUCTION)?"""
    return bool(_INSTRUCTION.search(text))


def balanced(text: str) -> str:
    """A sentence cut out of a bold span would leave an odd `**`: then the bold goes."""
    return text.replace("**", "") if text.count("**") % 2 else text


@dataclass(frozen=True)
class Block:
    """A paragraph, or a whole list (`items`, each with its marker), as Markdown."""

    text: str = ""
    items: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return bool(self.items)

    @property
    def lead_in(self) -> bool:
        """A paragraph that introduces the list after it ("Steps:")."""
        return not self.items and self.text.rstrip("*_ ").endswith(":")

    @property
    def words(self) -> int:
        return len(self.markdown.split())

    @property
    def markdown(self) -> str:
        return "\n".join(self.items) if self.items else self.text


def blocks_of(text: str, titles: Titles = lambda path: None) -> list[Block]:
    """The paragraphs and lists of a section's text, in order (see the module's docstring); a
    table is read as a list, one item per row."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    items: list[str] = []
    table: list[str] = []

    def flush() -> None:
        if paragraph:
            said = _without_meta(" ".join(paragraph))
            if said:
                blocks.append(Block(text=said))
            paragraph.clear()
        if items:
            kept = tuple(filter(None, map(_item_without_meta, items)))
            if kept:
                blocks.append(Block(items=kept))
            items.clear()
        if table:
            blocks.extend(_table(table))
            table.clear()

    skipping_code = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            flush()
            skipping_code = not skipping_code
            continue
        if skipping_code or line.startswith("#"):
            flush()
            continue
        if line.startswith("|"):
            if paragraph or items:
                flush()
            table.append(line)
            continue
        if not line or table:
            flush()
            if not line:
                continue
        if is_instruction(line):  # a line that speaks to the reader as instructions is never quoted
            continue
        line = readable_references(line, titles)
        if _LIST_MARK.match(raw):
            if paragraph:
                flush()
            items.append(_CHECKBOX.sub(r"\1", line))
        elif items and raw[:1].isspace():  # a wrapped or indented line of the last item
            items[-1] += " " + line
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return blocks


_META = re.compile(
    r"\bthis (?:file|guide|folder|document)\b|\bthe \w+ folder\b|^\W*see also\b"
    r"|\bthe files? on\b|\b(?:next|previous|following) section\b|\bsections? (?:above|below)\b",
    re.IGNORECASE,
)  # a sentence about the knowledge files themselves ("This file explains…", "as in the section above")
# An aside that points elsewhere in the knowledge ("(see the next section)"): the owner sees one
# section, with no "next" one, and the sentence reads whole without it.
_POINTER = re.compile(r"\s*\((?:see|as in|more in|covered in)\b[^()]*\)", re.IGNORECASE)


def _without_meta(paragraph: str) -> str:
    """A paragraph without its sentences about the knowledge files themselves, or asides that
    point to another part of them: an owner asked about their business, not about how the
    knowledge base is organised."""
    paragraph = _POINTER.sub("", paragraph)
    sentences = _SENTENCE_END.split(paragraph)
    kept = [sentence for sentence in sentences if not _META.search(sentence)]
    return paragraph if len(kept) == len(sentences) else " ".join(kept).strip()


def _item_without_meta(item: str) -> str:
    """A list item without its asides and sentences about the knowledge files; a bullet that was
    nothing else is dropped, a numbered step is kept whole (a list never loses a step)."""
    mark = _LIST_MARK.match(item)
    body = _without_meta(item[mark.end() :] if mark else item)
    if body:
        return (mark.group(0) if mark else "") + body
    return item if mark and mark.group(0).strip()[0].isdigit() else ""


_TABLE_RULE = re.compile(r"^\|?[\s:|-]+\|?$")


def _table(rows: list[str]) -> list[Block]:
    """A Markdown table as a list: its header row as the lead-in, one item per row."""
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows if not _TABLE_RULE.match(row)]
    cells = [row for row in cells if any(row) and not is_instruction(" ".join(row))]
    if not cells:
        return []
    header, *body = cells
    if not body:
        return [Block(items=("- " + " · ".join(c for c in header if c),))]
    items = tuple("- " + " · ".join(c for c in row if c) for row in body)
    return [Block(text=" · ".join(c for c in header if c) + ":"), Block(items=items)]


def readable_references(text: str, titles: Titles) -> str:
    """Paths of knowledge files (and Markdown links to them) said as the files' titles, in
    italics; a link to anything else keeps its text only."""

    def title(path: str) -> str:
        found = titles(path) or titles(path.lstrip("./"))
        return f"*{found}*" if found else "another guide"

    def link(match: re.Match) -> str:
        target = match.group(2)
        return title(target.split("#")[0].lstrip("./")) if target.split("#")[0].endswith(".md") else match.group(1)

    text = _MD_LINK.sub(link, text)
    text = _SEE_PATH.sub(lambda m: f" (see {title(m.group(1))})", text)
    return _PATH.sub(lambda m: title(m.group(1)), text)


def referenced_paths(text: str) -> list[str]:
    """The knowledge files a text points to, in order, once each."""
    found = [m.group(2).split("#")[0].lstrip("./") for m in _MD_LINK.finditer(text) if ".md" in m.group(2)]
    found += [m.group(1) for m in _PATH.finditer(_MD_LINK.sub("", text))]
    return list(dict.fromkeys(found))


def opening(blocks: list[Block], budget: int, list_budget: int) -> list[Block]:
    """The opening of a section for an answer: whole blocks in order until `budget` words. A
    paragraph that introduces a list comes with all of its items (within `list_budget` words for
    both; a longer list is shortened item by item, `compact`, never by dropping one); the first
    paragraph alone, if longer than `budget`, is cut after a sentence."""
    chosen: list[Block] = []
    words = 0
    number = 0
    while number < len(blocks):
        block = blocks[number]
        following = blocks[number + 1] if number + 1 < len(blocks) else None
        group = [block, following] if block.lead_in and following is not None and following.is_list else [block]
        if any(b.is_list for b in group):
            group = compact(group, list_budget)
        size = sum(b.words for b in group)
        limit = list_budget if any(b.is_list for b in group) else budget
        if chosen and words + size > limit:
            break
        if not chosen and not group[-1].is_list and size > budget:
            return [Block(text=first_sentences(block.text, budget))]
        chosen += group
        words += size
        number += len(group)
        if words >= budget:
            break
    return chosen


def compact(group: list[Block], budget: int) -> list[Block]:
    """A list (after its lead-in, if any) within `budget` words: whole if it fits, else each item
    cut to its first sentence, else to its first words; every item stays."""
    if sum(b.words for b in group) <= budget:
        return group
    *before, listed = group
    room = budget - sum(b.words for b in before)
    items = [_first_sentence_of_item(_SEE_TITLE.sub("", item)) for item in listed.items]
    if sum(len(item.split()) for item in items) > room:
        each = max(6, room // max(1, len(items)))
        items = [_first_words(item, each) for item in items]
    return [*before, Block(items=tuple(items))]


def _first_sentence_of_item(item: str) -> str:
    marker = _LIST_MARK.match(item)
    prefix = marker.group(0) if marker else ""
    return prefix + first_sentence(item[len(prefix) :])


def _first_words(item: str, count: int) -> str:
    words = item.split()
    return item if len(words) <= count + 1 else balanced(" ".join(words[: count + 1]).rstrip(",;:.") + "…")


def first_sentences(text: str, budget: int) -> str:
    """As many whole sentences of `text` as fit in `budget` words (at least one)."""
    sentences = _SENTENCE_END.split(text)
    kept: list[str] = []
    for sentence in sentences:
        if kept and len(" ".join([*kept, sentence]).split()) > budget:
            break
        kept.append(sentence)
    return balanced(" ".join(kept).strip())


def first_sentence(text: str) -> str:
    return balanced(_SENTENCE_END.split(text, maxsplit=1)[0].strip())


def markdown(blocks: list[Block]) -> str:
    return "\n".join(block.markdown for block in blocks)


def plain(text: str) -> str:
    """Markdown emphasis and code marks taken out: what the Sources button shows."""
    text = _BOLD.sub(lambda m: m.group(1) or m.group(2), text)
    text = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)
    return _CODE.sub(r"\1", text)


def excerpt(blocks: list[Block], limit: int = 600) -> str:
    """A readable excerpt: plain text of the opening, its list as "•" lines, cut after a whole
    sentence or item within `limit` characters."""
    lines: list[str] = []
    size = 0
    for block in blocks:
        parts = [f"• {_LIST_MARK.sub('', item)}" for item in block.items] if block.is_list else [block.text]
        for part in parts:
            part = plain(part)
            if size + len(part) > limit:
                if not lines:
                    lines.append(_cut(part, limit))
                return "\n".join(lines)
            lines.append(part)
            size += len(part) + 1
    return "\n".join(lines)


def _cut(text: str, limit: int) -> str:
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    return kept or text[: limit - 1].rsplit(" ", 1)[0] + "…"
