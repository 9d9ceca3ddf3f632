"""Real photos for tests, drawn with Pillow at test time: lines of text in a font Debian ships
(DejaVu for Latin, Cyrillic and Arabic; WenQuanYi Micro Hei for Chinese, fonts-wqy-microhei), a
blank page, a landscape and noise, all as JPEG (what Telegram sends for a photo)."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CHINESE = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

BANK_OFFER = [
    "Northwind Bank business loan offer",
    "Amount: 50,000 EUR over 36 months",
    "Interest rate: 7.9% per year, arrangement fee 1.5%",
    "Early repayment charge: the heron clause, 2% of the balance",
]
PRICE_LIST_RU = [
    "Прайс-лист пекарни Колосок",
    "Хлеб ржаной 500 г: 95 руб.",
    "Круассан с маслом: 120 руб.",
    "Торт медовый 1 кг: 1450 руб.",
]
PRICE_LIST_ZH = ["面包店价格表", "全麦面包 每个 十五元", "牛角包 每个 十二元", "生日蛋糕 每个 一百八十元"]
LOAN_OFFER_AR = ["عرض قرض من البنك", "المبلغ خمسون ألف ريال", "نسبة الفائدة سبعة في المئة"]


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def text_photo(lines: list[str], font: Path = DEJAVU, width: int = 1200) -> bytes:
    """Black lines of text on white, 36 px high, as a phone photo of a printed page reads."""
    face = ImageFont.truetype(str(font), 36)
    image = Image.new("RGB", (width, 80 + 60 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((40, 40 + 60 * number), line, font=face, fill="black")
    return jpeg(image)


def landscape(width: int = 800, height: int = 600) -> bytes:
    """A sky, a sun and a hill: no text at all."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        draw.line([(0, y), (width, y)], fill=(100 + y * 60 // height, 150, 255 - y * 150 // height))
    draw.ellipse((width * 3 // 8, height // 6, width * 5 // 8, height // 2), fill=(255, 220, 0))
    draw.polygon([(0, height), (width * 3 // 8, height * 5 // 12), (width * 3 // 4, height)], fill=(60, 90, 60))
    return jpeg(image)


def noise(width: int = 800, height: int = 600, seed: int = 1) -> bytes:
    """Coloured noise: what a photo of a texture gives Tesseract at worst."""
    chance = random.Random(seed)
    image = Image.new("RGB", (width, height))
    image.putdata(
        [(chance.randrange(256), chance.randrange(256), chance.randrange(256)) for _ in range(width * height)]
    )
    return jpeg(image)
