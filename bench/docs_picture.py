"""The README's picture: the review browser's conversation view, narrow enough for a front page.

    python bench/docs_picture.py                          # ~1 min: ingests knowledge/ into a temporary folder
    python bench/docs_picture.py --index data/index       # reuse an index instead
    python bench/docs_picture.py --out /tmp/conversation.png

It builds the same demo transcript as `bench/review_screenshots.py` (owners' questions answered
by the offline advisor on the real knowledge base, a 👎 with its comment, a hand-over and a
consultant's reply), starts `python -m bot review` on it and photographs the featured
conversation in headless Chromium (Debian's `chromium`) at a width that holds just the
conversation, in 256 colours (numpy; a screenshot of text loses nothing visible and shrinks by
half). It writes docs/images/conversation.png unless told otherwise, and refuses to
write a picture over 200 KB (the README's limit), or one taken while the page logged errors.
Emoji (👍, 👎) need Debian's `fonts-noto-color-emoji`; without it they are drawn as boxes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from common import ROOT
from review_screenshots import ingest, move_in_time, seed

from bot.config import load_settings
from tests.helpers.browser import ReviewServer, browser_page, chromium

OUT = ROOT / "docs" / "images" / "conversation.png"
MAX_BYTES = 200_000
VIEWPORT = {"width": 740, "height": 900}  # the conversation's column, without the empty right half


def decode_rgb(png: bytes) -> np.ndarray:
    """The pixels of an 8-bit RGB or RGBA PNG (what Chromium writes), as an (height, width, 3) array."""
    chunks, pos = {}, 8
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        chunks.setdefault(kind, []).append(png[pos + 8 : pos + 8 + length])
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    if depth != 8 or colour not in (2, 6):
        raise SystemExit(f"unexpected PNG: depth {depth}, colour type {colour}")
    bpp = 3 if colour == 2 else 4
    rows = np.frombuffer(zlib.decompress(b"".join(chunks[b"IDAT"])), np.uint8).reshape(height, width * bpp + 1)
    pixels = np.zeros((height, width * bpp), np.int32)
    above = np.zeros(width * bpp, np.int32)
    for y, (kind, line) in enumerate(zip(rows[:, 0], rows[:, 1:].astype(np.int32), strict=True)):
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + above) % 256
        elif kind == 1:  # each byte adds the one a pixel to the left: a running sum per channel
            row = (np.cumsum(line.reshape(width, bpp), axis=0) % 256).reshape(-1)
        else:  # average (3) or Paeth (4): one byte after another
            row = [0] * (width * bpp)
            for x in range(width * bpp):
                a, b = (row[x - bpp] if x >= bpp else 0), int(above[x])
                c = int(above[x - bpp]) if x >= bpp else 0
                if kind == 3:
                    guess = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    guess = a if pa <= pb and pa <= pc else b if pb <= pc else c
                row[x] = (int(line[x]) + guess) % 256
            row = np.array(row, np.int32)
        pixels[y] = above = row
    return pixels.reshape(height, width, bpp)[:, :, :3].astype(np.uint8)


def palette_png(pixels: np.ndarray, colours: int = 256) -> bytes:
    """`pixels` as a PNG of `colours` colours: the most frequent ones, every other pixel drawn in
    the nearest of them (a screenshot of text is mostly a few colours and their anti-aliasing)."""
    height, width, _ = pixels.shape
    unique, inverse, counts = np.unique(pixels.reshape(-1, 3), axis=0, return_inverse=True, return_counts=True)
    palette = unique[np.argsort(-counts)[:colours]].astype(np.int32)
    distance = ((unique[:, None, :].astype(np.int32) - palette[None, :, :]) ** 2).sum(axis=2)
    indices = distance.argmin(axis=1)[inverse.reshape(-1)].astype(np.uint8).reshape(height, width)
    rows = np.hstack([np.zeros((height, 1), np.uint8), indices]).tobytes()  # filter 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"PLTE", palette.astype(np.uint8).tobytes()),
            chunk(b"IDAT", zlib.compress(rows, 9)),
            chunk(b"IEND", b""),
        )
    )


def photograph(data_dir: Path, index: Path, conversation: int, out: Path) -> int:
    """The conversation view of `conversation`, whole, into `out`; returns its size in bytes."""
    with (
        ReviewServer(data_dir, env={"INDEX_DIR": str(index)}) as server,
        browser_page(server.login, only=server.base) as (page, log),
    ):
        page.set_viewport_size(VIEWPORT)
        page.goto(f"{server.base}/-/conversation/{conversation}")
        picture = palette_png(decode_rgb(page.screenshot(full_page=True)))
    if log.errors or log.blocked:
        raise SystemExit(f"the page logged errors {log.errors} or asked for outside URLs {log.blocked}")
    if len(picture) > MAX_BYTES:
        raise SystemExit(f"the picture is {len(picture):,} bytes, over the {MAX_BYTES:,} a front page allows")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(picture)
    return len(picture)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="An existing index folder (INDEX_DIR) to answer from.")
    parser.add_argument(
        "--out", type=Path, default=OUT, help=f"Where to write the PNG (default: {OUT.relative_to(ROOT)})."
    )
    args = parser.parse_args()
    if chromium() is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    os.environ.pop("LLM_MODEL", None)  # the demo's answers are the offline advisor's
    with tempfile.TemporaryDirectory(prefix="docs-picture-") as folder:
        data_dir = Path(folder)
        index = args.index.resolve() if args.index else data_dir / "index"
        if not args.index:
            ingest(data_dir)
        settings = load_settings(data_dir=data_dir, knowledge_dir=ROOT / "knowledge", index_dir=index)
        conversation, times = asyncio.run(seed(settings, random.Random(7)))
        move_in_time(data_dir / "transcripts.db", times)
        size = photograph(data_dir, index, conversation, args.out.resolve())
        shutil.rmtree(data_dir / "review", ignore_errors=True)
    shown = args.out.resolve()
    print(f"wrote {shown.relative_to(ROOT) if shown.is_relative_to(ROOT) else shown} ({size / 1000:.0f} KB)")


if __name__ == "__main__":
    main()
