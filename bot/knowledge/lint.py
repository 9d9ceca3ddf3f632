"""`python -m bot lint`: what a consultant should fix in the knowledge files before owners meet them.

The advisor answers by quoting the opening of the one section that best fits an owner's question
(`bot.advisor.offline`), and is sure of a section by the ways owners ask it (`Asked:`). So a file
is good when each section answers one question, says so in its heading, carries the ways owners
put it, is neither too long to quote nor too short to say anything, and does not repeat another
file. The linter reads the files as the ingest does (front matter, headings, `Asked:` blocks) and
loads no model: it runs in a second, in a knowledge repository's CI as in `make test`.

Errors (exit code 1) are what makes a file wrong for owners: front matter that does not parse, a
section that is not an owner's question or has no other way to ask it, a cross-reference to a file
that does not exist, a `review_by` that is not a date. Warnings are what a consultant should look
at: long or thin sections, near-duplicates across files, `review_by` dates passed, a file no eval
question names, figures in a file that names no source.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from bot.index.lexical import tokenize
from bot.index.sections import ILLUSTRATION
from bot.knowledge.asked import take_asked
from bot.knowledge.chunks import sections
from bot.knowledge.documents import parse_document
from bot.knowledge.files import KnowledgeFileError, discover, read_bytes, relative_path

# How long a section may be. The offline answer quotes a section's opening (about 110 words, or a
# paragraph with the whole list it introduces); a section much longer than that is mostly unseen,
# and one under MIN_WORDS rarely answers anything on its own.
MAX_WORDS = 450
MAX_OPENING_WORDS = 120
MIN_WORDS = 40
DUPLICATE_SIMILARITY = 0.8  # cosine of two sections' stemmed words (TF-IDF): the same text, reworded
# A heading is an owner's question when it ends in "?" or opens like one ("How to choose a 3PL").
QUESTION_START = re.compile(
    r"^(how|what|why|when|which|who|where|should|can|could|do|does|is|are|will|would|may|must)\b", re.I
)
CROSS_REFERENCE = re.compile(r"(?<![\w/.-])((?:[\w-]+/)+[\w-]+\.(?:md|markdown|txt|pdf|docx))\b")
FIGURE = re.compile(
    r"(?:\d[\d,.]*\s?(?:%|per\s?cent\b))|(?:[$£€₹₦¥]\s?\d)|(?:\b(?:KSh|Rs\.?|RM|S\$|A\$|NGN|KES|INR)\s?\d)"
)
# A sentence that says its numbers are made up for the example needs no source.
HYPOTHETICAL = re.compile(r"\b(hypothetical|example|e\.g\.|say |imagine|suppose|illustrat|made-up)", re.I)


@dataclass(frozen=True)
class Finding:
    """One thing to fix: where (file, and section heading when it is about one), which check, why."""

    path: str
    check: str
    message: str
    section: str = ""
    error: bool = False


@dataclass
class LintReport:
    files: int = 0
    sections: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.error]

    def as_dict(self) -> dict:
        return {
            "files": self.files,
            "sections": self.sections,
            "errors": [asdict(f) for f in self.errors],
            "warnings": [asdict(f) for f in self.warnings],
        }


@dataclass
class _Section:
    path: str
    heading: str
    text: str
    ways: tuple[str, ...]


def lint(knowledge_dir: Path, today: dt.date | None = None, max_bytes: int = 5 * 1024 * 1024) -> LintReport:
    """Every check over every Markdown and text file of `knowledge_dir` (PDF and Word files are
    read by the ingest as they are: nothing here to fix in them)."""
    today = today or dt.date.today()
    report = LintReport()
    paths, skipped = discover(knowledge_dir)
    for item in skipped:
        report.findings.append(Finding(item.path, "readable", item.reason, error=True))
    everything: list[_Section] = []
    named = {relative_path(path, knowledge_dir) for path in paths}
    for path in paths:
        if path.suffix.lower() not in (".md", ".markdown", ".txt"):
            continue
        report.files += 1
        found = _lint_file(path, knowledge_dir, named, today, report, max_bytes)
        report.sections += len(found)
        everything.extend(found)
    report.findings.extend(_near_duplicates(everything))
    report.findings.extend(_unreached(knowledge_dir, {s.path for s in everything}))
    return report


def lint_entry(text: str, rel_path: str, today: dt.date | None = None) -> list[Finding]:
    """The checks of one file, on a text not written yet (a consultant's draft): what they would
    say of it under `rel_path` (checks across files left out)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / rel_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        report = LintReport()
        _lint_file(path, Path(folder), {rel_path}, today or dt.date.today(), report, len(text.encode()) + 1)
    return report.findings


def _lint_file(path: Path, root: Path, named: set[str], today: dt.date, report: LintReport, max_bytes: int):
    rel = relative_path(path, root)
    try:
        data = read_bytes(path, root, max_bytes)  # as the ingest reads it: the same refusals
    except KnowledgeFileError as exc:
        report.findings.append(Finding(rel, "readable", exc.reason, error=True))
        return []
    try:
        document = parse_document(rel, data)
    except KnowledgeFileError as exc:
        report.findings.append(Finding(rel, "front matter", exc.reason, error=True))
        return []
    # parse_document read the text (UTF-8, or UTF-16 with its mark); the front matter is what it validated
    raw = _raw_front_matter(data.decode("utf-8", errors="replace")) if rel.endswith((".md", ".markdown")) else {}
    findings = report.findings
    findings.extend(_check_review_by(rel, raw, today))
    found = []
    parts = sections(document.text)
    has_sections = any(" > " in heading for heading, _ in parts)
    for heading, body in parts:
        if has_sections and " > " not in heading:
            continue  # the text under the title: what the file covers, never an answer
        own = heading.split(" > ")[-1]
        block = take_asked(body)
        section = _Section(rel, own, block.text, block.ways)
        found.append(section)
        findings.extend(_check_section(section))
    for reference in sorted(set(CROSS_REFERENCE.findall(document.text))):
        if reference not in named:
            findings.append(
                Finding(rel, "cross-reference", f"names {reference}, which is not in the knowledge folder", error=True)
            )
    if not (raw.get("sources") or raw.get("source")):
        findings.extend(_unsourced_figures(found))
    if not raw.get("title") and rel.endswith((".md", ".markdown")):
        findings.append(Finding(rel, "front matter", "has no title: the file name or first heading is shown"))
    return found


def _raw_front_matter(text: str) -> dict:
    """The front matter as written (the ingest keeps only the fields it uses; `review_by` and
    `sources` are the linter's)."""
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", text, re.S)
    if not match:
        return {}
    loaded = yaml.safe_load(match.group(1))
    return loaded if isinstance(loaded, dict) else {}


def review_due(knowledge_dir: Path, today: dt.date, max_bytes: int = 5 * 1024 * 1024) -> dict[str, dt.date]:
    """The Markdown files whose front matter `review_by` date has passed, with that date (files
    that cannot be read, or whose `review_by` is no date, are the linter's errors, left out here)."""
    due = {}
    for path in discover(knowledge_dir)[0]:
        if path.suffix.lower() not in (".md", ".markdown"):
            continue
        try:
            raw = _raw_front_matter(read_bytes(path, knowledge_dir, max_bytes).decode("utf-8", errors="replace"))
        except (KnowledgeFileError, yaml.YAMLError):
            continue
        value = _review_by(raw)
        if isinstance(value, dt.date) and value < today:
            due[relative_path(path, knowledge_dir)] = value
    return due


def _review_by(raw: dict) -> object:
    """The front matter's `review_by` as a date, or as written when it is none (None: not given)."""
    value = raw.get("review_by")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value.strip())
    return value


def _check_review_by(rel: str, raw: dict, today: dt.date) -> list[Finding]:
    value = _review_by(raw)
    if value is None:
        return []
    if not isinstance(value, dt.date):
        return [Finding(rel, "review_by", f"must be a date like 2027-06-30, not {value!r}", error=True)]
    if value < today:
        return [Finding(rel, "review_by", f"was due on {value.isoformat()}: check its rates, schemes and rules")]
    return []


def _check_section(section: _Section) -> list[Finding]:
    def finding(check: str, message: str, error: bool = False) -> Finding:
        return Finding(section.path, check, message, section.heading, error)

    found = []
    illustration = ILLUSTRATION.match(section.heading) is not None
    question = section.heading.rstrip().endswith("?") or QUESTION_START.match(section.heading)
    if not question and not illustration:
        found.append(finding("question heading", "the heading is not an owner's question", error=True))
    if not section.ways and not illustration:
        found.append(finding("ways of asking", "no Asked: block: add the other ways owners ask it", error=True))
    words = len(section.text.split())
    if words > MAX_WORDS:
        found.append(finding("long", f"{words} words: an answer quotes only its opening; split it into sections"))
    elif words < MIN_WORDS:
        found.append(finding("short", f"{words} words: too little to answer a question on its own"))
    opening = next((p for p in re.split(r"\n\s*\n", section.text) if p.strip()), "")
    if len(opening.split()) > MAX_OPENING_WORDS:
        found.append(
            finding("long opening", f"the first paragraph is {len(opening.split())} words: answers cut it short")
        )
    return found


def _unsourced_figures(found: list[_Section]) -> list[Finding]:
    """Figures (percentages, amounts of money) in a file whose front matter names no source,
    outside a section or paragraph that says its numbers are an example."""
    findings = []
    for section in found:
        if HYPOTHETICAL.search(section.heading):
            continue
        paragraphs = re.split(r"\n\s*\n", section.text)
        example = next((n for n, p in enumerate(paragraphs) if HYPOTHETICAL.search(p)), len(paragraphs))
        # from a paragraph that says "hypothetical example" on, the section works the example
        for sentence in (s for p in paragraphs[:example] for s in re.split(r"(?<=[.!?])\s+|\n", p)):
            if FIGURE.search(sentence):
                quoted = sentence.strip()[:80]
                findings.append(
                    Finding(
                        section.path,
                        "figure without source",
                        f"“{quoted}”: name its source in front matter `sources:` or mark it hypothetical",
                        section.heading,
                    )
                )
                break
    return findings


def _near_duplicates(found: list[_Section]) -> list[Finding]:
    """Pairs of sections in different files that say nearly the same thing (TF-IDF cosine of their
    stemmed words): owners get one or the other by chance."""
    bags = [Counter(tokenize(f"{s.heading} {s.text}")) for s in found]
    frequency = Counter(word for bag in bags for word in bag)
    count = len(bags)
    vectors = []
    for bag in bags:
        weights = {w: n * math.log(1 + count / frequency[w]) for w, n in bag.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        vectors.append({w: v / norm for w, v in weights.items()})
    findings = []
    for i in range(count):
        for j in range(i + 1, count):
            if found[i].path == found[j].path:
                continue
            small, large = sorted((vectors[i], vectors[j]), key=len)
            similarity = sum(v * large.get(w, 0.0) for w, v in small.items())
            if similarity >= DUPLICATE_SIMILARITY:
                other = f"{found[j].path}#{found[j].heading}"
                findings.append(
                    Finding(
                        found[i].path,
                        "near-duplicate",
                        f"{similarity:.2f} alike with {other}: merge them, or make each answer its own question",
                        found[i].heading,
                    )
                )
    return findings


def _unreached(knowledge_dir: Path, paths: set[str]) -> list[Finding]:
    """Files no eval question names (`eval/*.yaml`): nobody checks that owners' questions find them."""
    folder = knowledge_dir / "eval"
    if not folder.is_dir():
        return []
    reached: set[str] = set()
    for file in sorted(folder.glob("*.yaml")):
        try:
            entries = yaml.safe_load(file.read_text(encoding="utf-8")) or []
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            return [Finding(relative_path(file, knowledge_dir), "eval", f"cannot be read: {exc}", error=True)]
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict):
                named = [*(entry.get("sections") or []), *(entry.get("files") or [])]
                reached.update(str(name).split("#", 1)[0] for name in named)
    return [
        Finding(path, "eval", "no eval question names this file: add a few to eval/questions.yaml")
        for path in sorted(paths - reached)
    ]
