"""Citation checking for model output, streamed or whole.

A model may cite `[7]` when only five passages were given. `CitationFilter`
drops such numbers as the text streams by (holding back just the characters
of a possible citation), so the streamed deltas and the final text are the
same, and both only cite passages that exist. Knowledge passages are cited by
number (`[1]`), passages of the owner's own documents as `[D1]`: valid labels
are numbers and "D<n>" strings.
"""

from __future__ import annotations

import re

_CITATION = re.compile(r"\[([Dd]?\d+(?:\s*,\s*[Dd]?\d+)*)\]")
Label = int | str  # 3: the third knowledge passage; "D1": the first passage of the owner's documents
_MAX_PENDING = 24  # longer than any real citation: flush as plain text


class CitationFilter:
    """Feed text pieces; get back the same text with invalid citations removed."""

    def __init__(self, valid: set[Label]) -> None:
        self.valid = valid
        self.cited: list[Label] = []
        self._pending = ""  # a possible citation, not yet closed
        self._space = ""  # whitespace held back in case the next thing is a dropped citation

    def feed(self, text: str) -> str:
        out: list[str] = []
        for char in text:
            out.append(self._step(char))
        return "".join(out)

    def finish(self) -> str:
        rest = self._space + self._pending
        self._space = self._pending = ""
        return rest

    def _step(self, char: str) -> str:
        if self._pending:
            self._pending += char
            if char == "]":
                return self._close()
            if not (char.isdigit() or char in ", Dd") or len(self._pending) > _MAX_PENDING:
                text, self._pending = self._pending, ""
                return self._emit(text)
            return ""
        if char == "[":
            self._pending = char
            return ""
        if char in " \t":
            self._space += char
            return ""
        return self._emit(char)

    def _emit(self, text: str) -> str:
        text, self._space = self._space + text, ""
        return text

    def _close(self) -> str:
        pending, self._pending = self._pending, ""
        match = _CITATION.fullmatch(pending)
        if match is None:
            return self._emit(pending)
        labels = [_label(n) for n in re.findall(r"[Dd]?\d+", match.group(1))]
        kept = [n for n in labels if n in self.valid]
        if not kept:
            self._space = ""  # drop it, and the space that led to it
            return ""
        for number in kept:
            if number not in self.cited:
                self.cited.append(number)
        return self._emit("[" + ", ".join(str(n) for n in kept) + "]")


def _label(text: str) -> Label:
    return f"D{int(text[1:])}" if text[0] in "Dd" else int(text)


def clean_citations(text: str, valid: set[Label]) -> tuple[str, list[Label]]:
    """The whole-text form: (text without invalid citations, valid numbers in order of first use)."""
    citation_filter = CitationFilter(valid)
    cleaned = citation_filter.feed(text) + citation_filter.finish()
    return cleaned, citation_filter.cited
