"""A larger knowledge base synthesised from knowledge/, for the knowledge-base scale benchmark.

Each new file is written for one made-up business (an owner's name, a trade, a city): it takes
the title text and three to seven question sections (heading, `Asked:` block, answer) from two or
three files of one topic, and rewords them for that business: "my business" becomes "my bakery",
common words get a synonym chosen at random per occurrence, money amounts are scaled, and every
section gets a sentence about the owner's case with its own figures. So no two files, and almost
no two paragraphs, are the same text (their vectors differ, nothing is skipped as a repeat, few
paragraphs recur in three files, which `bot.index.boilerplate` would take for a template's), and
the front matter stays the format knowledge/README.md describes. Deterministic for a seed.

    from kb_synthetic import make_knowledge_base
    make_knowledge_base(folder, files=1000, real=112)   # the 112 real files + 888 synthesised
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from common import ROOT

from bot.knowledge import discover

SEED = 31
BUSINESSES = [
    ("bakery", "bakeries"), ("hair salon", "hair salons"), ("cleaning company", "cleaning companies"),
    ("phone repair shop", "phone repair shops"), ("furniture workshop", "furniture workshops"),
    ("food truck", "food trucks"), ("guesthouse", "guesthouses"), ("tailoring studio", "tailoring studios"),
    ("car repair garage", "car repair garages"), ("pharmacy", "pharmacies"), ("bookshop", "bookshops"),
    ("coffee roastery", "coffee roasteries"), ("print shop", "print shops"), ("florist", "florists"),
    ("catering firm", "catering firms"), ("tutoring centre", "tutoring centres"),
    ("plumbing business", "plumbing businesses"), ("bicycle shop", "bicycle shops"),
    ("pottery studio", "pottery studios"), ("organic farm", "organic farms"), ("craft brewery", "craft breweries"),
    ("dental practice", "dental practices"), ("photography studio", "photography studios"),
    ("fitness studio", "fitness studios"), ("laundry", "laundries"), ("courier service", "courier services"),
    ("IT support firm", "IT support firms"), ("spice trading company", "spice trading companies"),
    ("shoe workshop", "shoe workshops"), ("juice bar", "juice bars"), ("veterinary clinic", "veterinary clinics"),
    ("textile workshop", "textile workshops"), ("hardware store", "hardware stores"),
]  # fmt: skip
PLACES = [
    ("Nairobi", "Kenya"), ("Lima", "Peru"), ("Porto", "Portugal"), ("Hanoi", "Vietnam"), ("Accra", "Ghana"),
    ("Leeds", "the UK"), ("Cebu", "the Philippines"), ("Guadalajara", "Mexico"), ("Pune", "India"),
    ("Kraków", "Poland"), ("Medellín", "Colombia"), ("Izmir", "Turkey"), ("Durban", "South Africa"),
    ("Surabaya", "Indonesia"), ("Tbilisi", "Georgia"), ("Dakar", "Senegal"), ("Córdoba", "Argentina"),
    ("Lyon", "France"), ("Penang", "Malaysia"), ("Kampala", "Uganda"), ("Valencia", "Spain"),
    ("Cluj", "Romania"), ("Chiang Mai", "Thailand"), ("Brisbane", "Australia"), ("Halifax", "Canada"),
    ("Arusha", "Tanzania"), ("Casablanca", "Morocco"), ("Lahore", "Pakistan"), ("Quito", "Ecuador"),
]  # fmt: skip
NAMES = [
    "Amina", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Joana", "Kofi", "Leila",
    "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Samir", "Tariq", "Ursula", "Vikram", "Wanjiru",
    "Xavier", "Yara", "Zoltan", "Aisha", "Bilal", "Carmen", "Dmitri", "Esi", "Felipe", "Grace", "Hiro",
]  # fmt: skip
SYNONYMS = [
    ["customers", "clients", "buyers"], ["customer", "client", "buyer"], ["quickly", "fast", "promptly"],
    ["cheap", "inexpensive", "low-cost"], ["expensive", "costly", "pricey"], ["important", "essential", "key"],
    ["check", "verify", "confirm"], ["start", "begin"], ["choose", "pick", "select"], ["usually", "typically"],
    ["often", "frequently"], ["enough", "sufficient"], ["money", "cash", "funds"], ["help", "assist"],
    ["problem", "issue", "difficulty"], ["problems", "issues", "difficulties"], ["simple", "plain", "easy"],
    ["large", "big", "sizeable"], ["small", "little", "modest"], ["supplier", "vendor"],
    ["suppliers", "vendors"], ["monthly", "every month"], ["written", "set down"], ["keep", "retain"],
    ["plan", "scheme"], ["need", "require"], ["get", "obtain"], ["show", "demonstrate"], ["buy", "purchase"],
    ["many", "numerous"], ["also", "as well"], ["ask", "request"], ["goal", "aim", "target"],
    ["risk", "danger", "exposure"], ["price", "rate"], ["staff", "employees", "team"], ["costs", "expenses"],
]  # fmt: skip
CASES = [
    "{name}, who runs a {business} in {city}, {event} and set aside {amount} for it.",
    "Take {name}'s {business} in {city}: it {event}, with {amount} at stake.",
    "When {name} {event} at a {business} in {city}, {amount} was the figure that mattered.",
    "In {city}, {country}, {name} {event}; the {business} budgeted {amount} for this step.",
    "Example: a {business} in {city} owned by {name} {event}, spending about {amount}.",
]
EVENTS = [
    "faced this in the first year", "met this question after a slow season", "had to decide this before expanding",
    "dealt with this after losing a large client", "worked through this with an accountant",
    "went through this when a new competitor opened nearby", "tackled this after a bank turned them down",
    "sorted this out before hiring a second employee", "handled this during a supply shortage",
    "looked at this when sales doubled in one summer", "had this come up while moving to new premises",
]  # fmt: skip
CURRENCIES = ["$", "€", "£", "USD ", "KES ", "INR "]
FRONT = re.compile(r"^---\n(.*?)\n---\n(.*)$", re.DOTALL)  # the front matter: up to a line of three dashes
PROTECTED = re.compile(r"(https?://\S+|(?:[\w-]+/)+[\w-]+\.(?:md|markdown|txt|pdf|docx)\b)")
MONEY = re.compile(r"([$€£])\s?(\d[\d,]*)(\.\d+)?")
BUSINESS_WORDS = re.compile(r"\b(my|your|our|a small|the) (business|shop|company)\b")


@dataclass(frozen=True)
class Owner:
    name: str
    business: str
    plural: str
    city: str
    country: str


@dataclass
class Section:
    heading: str
    body: str  # the `Asked:` block and the answer, as written


def make_knowledge_base(folder: Path, files: int, real: int, seed: int = SEED) -> list[Path]:
    """`real` files of knowledge/ (spread across its topics) and `files - real` synthesised ones."""
    sources = _source_files()
    chosen = sources[:: max(1, len(sources) // real)][:real] if real < len(sources) else sources
    written = []
    for path in chosen:
        target = folder / path.relative_to(ROOT / "knowledge")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written.append(target)
    rng = random.Random(seed)
    by_topic = _by_topic(sources)
    owners = _owners(rng, files - real)
    for number, owner in enumerate(owners):
        topic = sorted(by_topic)[number % len(by_topic)]
        written.append(_write_file(folder, topic, rng.sample(by_topic[topic], rng.randint(2, 3)), owner, rng, number))
    return written


def _source_files() -> list[Path]:
    files, _ = discover(ROOT / "knowledge")
    return sorted(p for p in files if p.suffix == ".md")


def _by_topic(sources: list[Path]) -> dict[str, list[Path]]:
    topics: dict[str, list[Path]] = {}
    for path in sources:
        topics.setdefault(path.parent.name, []).append(path)
    return topics


def _owners(rng: random.Random, count: int) -> list[Owner]:
    """`count` distinct (name, business, place) triples."""
    seen: set[tuple] = set()
    owners = []
    while len(owners) < count:
        name, (business, plural), (city, country) = rng.choice(NAMES), rng.choice(BUSINESSES), rng.choice(PLACES)
        if (name, business, city) not in seen:
            seen.add((name, business, city))
            owners.append(Owner(name, business, plural, city, country))
    return owners


def _read(path: Path) -> tuple[dict, str, list[Section]]:
    """Front matter, the title's text (before the first section) and the sections of one file."""
    text = path.read_text(encoding="utf-8")
    front, body = FRONT.match(text).groups()
    parts = re.split(r"^## ", body, flags=re.MULTILINE)
    intro = re.sub(r"^# .*$", "", parts[0], flags=re.MULTILINE).strip()
    sections = [Section(*part.split("\n", 1)) for part in parts[1:] if "\n" in part]
    return yaml.safe_load(front), intro, sections


def _write_file(folder: Path, topic: str, paths: list[Path], owner: Owner, rng: random.Random, number: int) -> Path:
    read = [_read(path) for path in paths]
    sections = [s for _, _, found in read for s in rng.sample(found, min(len(found), rng.randint(1, 3)))]
    sections = sections[:7]
    titles = [meta["title"] for meta, _, _ in read]
    title = f"{titles[0]} and {titles[1][0].lower()}{titles[1][1:]}: a {owner.business} in {owner.city}"
    currency, factor = rng.choice(CURRENCIES), rng.uniform(0.4, 2.5)
    body = [f"# {title}", "", _reword(read[0][1], owner, rng, currency, factor), ""]
    body += [f"This file follows {owner.name}'s {owner.business} in {owner.city}, {owner.country}.", ""]
    for section in sections:
        body += [f"## {_reword(section.heading.strip(), owner, rng, currency, factor, synonyms=False)}", ""]
        body += [_reword(section.body.strip(), owner, rng, currency, factor), "", _case(owner, rng, currency), ""]
    meta = _front_matter([m for m, _, _ in read], title, topic)
    slug = re.sub(r"[^a-z0-9]+", "-", f"{paths[0].stem} {owner.business} {owner.city}".lower()).strip("-")
    target = folder / topic / f"{slug}-{number:04d}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    target.write_text(f"---\n{front}---\n\n" + "\n".join(body).rstrip() + "\n", encoding="utf-8")
    return target


def _front_matter(metas: list[dict], title: str, topic: str) -> dict:
    first = metas[0]
    tags = list(dict.fromkeys(t for m in metas for t in m.get("tags") or []))[:12]
    sources = list(dict.fromkeys(s for m in metas for s in m.get("sources") or []))
    meta = {"title": title, "topic": topic, "tags": tags, "audience": first.get("audience", ["owners"])}
    meta |= {k: first[k] for k in ("region", "updated", "review_by") if k in first}
    return meta | ({"sources": sources} if sources else {})


def _reword(text: str, owner: Owner, rng: random.Random, currency: str, factor: float, synonyms: bool = True) -> str:
    """`_reword_words` around links and file names, which stay as written (they must still resolve)."""
    pieces = PROTECTED.split(text)  # odd pieces are the protected ones (the pattern's one group)
    return "".join(
        piece if odd else _reword_words(piece, owner, rng, currency, factor, synonyms)
        for odd, piece in zip(itertools.cycle((False, True)), pieces)
    )


def _reword_words(text: str, owner: Owner, rng: random.Random, currency: str, factor: float, synonyms: bool) -> str:
    """The owner's trade for "my business", a synonym per occurrence, money in this file's scale."""
    text = BUSINESS_WORDS.sub(lambda m: f"{m.group(1)} {owner.business}", text)
    text = MONEY.sub(lambda m: _money(m, currency, factor), text)
    if not synonyms:
        return text
    for group in SYNONYMS:
        pattern = re.compile(rf"\b({'|'.join(group)})\b")
        text = pattern.sub(lambda m, g=group: rng.choice(g), text)
    return text


def _money(match: re.Match, currency: str, factor: float) -> str:
    amount = float(match.group(2).replace(",", "")) * factor
    return f"{currency}{_round(amount):,}"


def _round(amount: float) -> int:
    """Two significant figures: 12,345 → 12,000."""
    if amount < 10:
        return max(1, round(amount))
    digits = len(str(int(amount))) - 2
    return int(round(amount, -digits))


def _case(owner: Owner, rng: random.Random, currency: str) -> str:
    amount = f"{currency}{_round(rng.uniform(200, 60_000)):,}"
    template = rng.choice(CASES)
    return template.format(
        name=owner.name,
        business=owner.business,
        city=owner.city,
        country=owner.country,
        event=rng.choice(EVENTS),
        amount=amount,
    )
