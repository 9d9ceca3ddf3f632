"""The text in a photo (a bank's offer, an invoice, a price list), read with Tesseract's CLI.

`read_photo_text` runs `tesseract` (Debian's tesseract-ocr, with a language pack per bot
language where Debian has one) in a child process, never on the event loop, with a time limit,
one photo at a time per bot process and one thread each (the CPU is for answers). It returns
the photo's text as Markdown whose heading is its first meaningful line (the title an owner's
document gets, `uploads.own_title`), or None: no readable text (a landscape, a face, noise),
Tesseract not installed, failing or too slow. A missing Tesseract is logged once per search
path, its failures each time; the caller then answers as it did before photos were read.
Nothing here stores anything, nor knows of Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import logging
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# The bot's languages (bot.locales) → Tesseract's packs; English is always read too.
PACKS = {
    "en": "eng",
    "ru": "rus",
    "uk": "ukr",
    "ar": "ara",
    "zh": "chi_sim",
    "es": "spa",
    "pt": "por",
    "tr": "tur",
    "id": "ind",
}
READERS = 1  # photos read at once, per bot process
SURE = 60.0  # Tesseract's confidence (0-100) from which a word counts as read
MIN_WORDS = 2  # words read surely, with letters, for a photo to have text…
MIN_LETTERS = 6  # …and letters among them (面包店价格表 is six; a blurred texture reads as "ee | ~")
TITLE_LETTERS = 3  # the first line with this many letters is the title
TITLE_CHARACTERS = 80


@dataclass(frozen=True)
class PhotoText:
    """What was read in a photo: its title line and its whole text as Markdown."""

    title: str
    markdown: str
    words: int


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()
_packs: dict[str, frozenset[str]] = {}  # the packs installed, by tesseract's path
_told_missing: set[str] = set()  # search paths already logged as having no tesseract


def languages(language: str, installed: frozenset[str]) -> str:
    """Tesseract's `-l` for an owner's language: its pack (when installed) and English."""
    wanted = [PACKS.get(language, "eng"), "eng"]
    chosen = [pack for pack in dict.fromkeys(wanted) if pack in installed]
    return "+".join(chosen or sorted(installed - {"osd"})[:1] or ["eng"])


async def read_photo_text(data: bytes, language: str, *, seconds: float) -> PhotoText | None:
    """The text in a photo (JPEG or PNG bytes) in the owner's `language`, or None (see above)."""
    program = shutil.which("tesseract")
    if program is None:
        search = os.environ.get("PATH", "")
        if search not in _told_missing:
            _told_missing.add(search)
            log.warning("photos are not read: tesseract is not installed (apt-get install tesseract-ocr)")
        return None
    readers = _readers.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(READERS))
    async with readers:
        try:
            async with asyncio.timeout(seconds):
                installed = await _installed(program)
                rows, text = await _tesseract(program, data, languages(language, installed))
        except TimeoutError:
            log.warning("tesseract took over %g s to read a photo; answered without its text", seconds)
            return None
        except Exception as exc:  # OSError, its exit status (RuntimeError), its output unreadable
            log.warning("tesseract could not read a photo: %s", exc)
            return None
    return photo_text(rows, text)


def photo_text(rows: list[dict[str, str]], text: str) -> PhotoText | None:
    """A photo's text from Tesseract's TSV `rows` (to judge it) and its plain `text` (to keep):
    None when fewer than MIN_WORDS words with MIN_LETTERS letters were read surely."""
    sure = [row["text"] for row in rows if _confidence(row) >= SURE and _letters(row.get("text") or "")]
    if len(sure) < MIN_WORDS or sum(_letters(word) for word in sure) < MIN_LETTERS:
        return None
    lines = [" ".join(line.split()) for line in text.splitlines()]
    lines = [line for line in lines if line]
    title = next((line for line in lines if _letters(line) >= TITLE_LETTERS), None)
    if title is None:
        return None
    title = title.replace("#", " ").strip(" *_`>-") or title
    if len(title) > TITLE_CHARACTERS:
        title = title[: TITLE_CHARACTERS - 1].rstrip() + "…"
    body = "\n\n".join(line.lstrip("#").strip() for line in lines)  # each line a paragraph: lists stay apart
    return PhotoText(title, f"# {title}\n\n{body}\n", len(body.split()))


def _confidence(row: dict[str, str]) -> float:
    try:
        return float(row.get("conf") or -1)
    except ValueError:
        return -1.0


def _letters(text: str) -> int:
    return sum(character.isalpha() for character in text)


async def _installed(program: str) -> frozenset[str]:
    """The language packs this tesseract has (asked once per process and program)."""
    if program not in _packs:
        out, _err = await _run([program, "--list-langs"])
        _packs[program] = frozenset(line.strip() for line in out.decode(errors="replace").splitlines()[1:])
    return _packs[program]


async def _tesseract(program: str, data: bytes, langs: str) -> tuple[list[dict[str, str]], str]:
    """Tesseract's TSV rows and plain text for one image (both written to a folder of its own)."""
    with tempfile.TemporaryDirectory(prefix="ocr-") as folder:
        out = Path(folder) / "out"
        await _run([program, "stdin", str(out), "-l", langs, "txt", "tsv"], data)
        tsv = out.with_suffix(".tsv").read_text(encoding="utf-8", errors="replace")
        text = out.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
    rows = list(csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows, text


async def _run(command: list[str], data: bytes | None = None) -> tuple[bytes, bytes]:
    """Run Tesseract (one thread: OMP_THREAD_LIMIT=1); a failure is a RuntimeError, and a
    cancelled or timed-out run is killed."""
    child = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if data is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    try:
        out, err = await child.communicate(data)
    finally:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
    if child.returncode != 0:
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {child.returncode}"]
        raise RuntimeError(reason[0])
    return out, err
