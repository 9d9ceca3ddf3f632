"""The owner's profile: what they tell the advisor about the business (`Profile`), read from
`key=value` pairs (`profile_pairs`), the choices /profile offers (`CHOICES`), and what of it
retrieval should prefer (`Profile.preferences`).

Channels load it from storage and pass it in; shown to the owner with their translator, the
chosen values are in their language, while the stored values stay the English keys.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

from bot.locales import N_, Translate

if TYPE_CHECKING:  # the retriever (and Chroma) is not needed to read a profile
    from bot.index.retriever import Preferences


class ProfileError(ValueError):
    """A profile value the owner typed cannot be used; the message says how to fix it.

    `template` (marked for translation) and `params` let a channel say it in the owner's
    language: `_(exc.template).format(**exc.params)`; str(exc) is the English."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template.format(**params))
        self.template, self.params = template, params


NOT_A_SETTING = N_("'{pair}' is not a profile setting; use key=value with keys: {keys}")


PROFILE_ALIASES = {
    "name": "business_name",
    "business": "business_name",
    "business_name": "business_name",
    "industry": "industry",
    "sector": "industry",
    "staff": "staff",
    "size": "staff",
    "employees": "staff",
    "region": "region",
    "country": "region",
    "stage": "stage",
    "goals": "goals",
    "goal": "goals",
}


@dataclass(frozen=True)
class Profile:
    """Optional facts an owner gives about the business, used to tailor answers."""

    business_name: str = ""
    industry: str = ""
    staff: int | str | None = None  # a number of people, or a range chosen from buttons ("2–9")
    region: str = ""
    stage: str = ""
    goals: str = ""

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def is_empty(self) -> bool:
        return self == Profile()

    def updated(self, pairs: Sequence[str]) -> Profile:
        """A copy with `key=value` pairs applied (`staff=6 region=AU`); an empty value clears a field."""
        values = self.to_dict()
        for pair in pairs:
            key, sep, value = pair.partition("=")
            name = PROFILE_ALIASES.get(key.strip().lower().replace("-", "_"))
            if not sep or name is None:
                raise ProfileError(NOT_A_SETTING, pair=pair, keys=", ".join(self.keys()))
            values[name] = _clean(name, value.strip())
        return Profile(**values)

    @classmethod
    def from_dict(cls, data: dict | None) -> Profile:
        if not data:
            return cls()
        names = set(cls.keys())
        known = {k: v for k, v in data.items() if k in names}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self, _: Translate | None = None) -> str:
        """The profile as lines ('not given' when empty). Without `_`: English labels and the
        stored values, for a prompt or a consultant; with it, for the owner: labels and the values
        chosen from /profile's buttons in `_`'s language ('Отрасль: Еда и напитки', not 'food
        and drink'), a typed value as typed."""
        lines = [f"{label}: {value}" for label, value in self.shown(_).items()]
        if not lines:
            return _("not given") if _ else "not given"  # called as _("…"), so extraction sees it
        return "\n".join(lines)

    def shown(self, _: Translate | None = None) -> dict[str, str]:
        """The fields given, label → value, as `describe` shows them."""
        return {
            (_ or str)(LABELS[key]): _shown(key, value, _) if _ else str(value)
            for key, value in self.to_dict().items()
            if value not in ("", None)
        }

    def preferences(self) -> Preferences:
        """Front-matter values retrieval should prefer, and the offline answer may say fit: the
        owner's region, their industry as a tag, and the audiences their stage, industry and size
        belong to, in the words knowledge files use ('just starting': founders, start-ups…)."""
        prefer: Preferences = {}
        if self.region:
            prefer["region"] = (self.region,)
        audience = list(STAGE_AUDIENCE.get(self.stage.lower(), (self.stage,))) if self.stage else []
        if self.industry:
            prefer["tags"] = (self.industry,)
            audience += INDUSTRY_AUDIENCE.get(self.industry.lower(), ())
        if str(self.staff) == "1":
            audience.append("sole traders")
        if audience:
            prefer["audience"] = tuple(dict.fromkeys(audience))
        return prefer


LABELS = {
    "business_name": N_("Business"),
    "industry": N_("Industry"),
    "staff": N_("Staff"),
    "region": N_("Region/country"),
    "stage": N_("Stage"),
    "goals": N_("Goals"),
}

# The choices /profile offers as buttons, per field: (label, value). The value is stored, in
# English (retrieval's preferences and the prompt read it); the label is how the owner is shown it.
CHOICES: dict[str, list[tuple[str, str]]] = {
    "industry": [
        (N_("Retail shop"), "retail"),
        (N_("Food & drink"), "food and drink"),
        (N_("Services"), "services"),
        (N_("Online shop"), "online retail"),
        (N_("Manufacturing"), "manufacturing"),
        (N_("Farming"), "agriculture"),
    ],
    "staff": [(N_("Just me"), "1"), ("2–9", "2–9"), ("10–49", "10–49"), ("50–249", "50–249"), ("250+", "250+")],
    "stage": [
        (N_("Just starting"), "just starting"),
        (N_("Growing"), "growing"),
        (N_("Established"), "established"),
        (N_("Selling abroad"), "selling abroad"),
    ],
}


def _shown(field: str, value: object, _: Translate) -> str:
    """A stored value as the owner is shown it: a choice's label in their language (also when
    typed: 'growing' or 'Growing'), anything else as it is."""
    labels = {choice.casefold(): label for label, choice in CHOICES.get(field, [])}
    label = labels.get(str(value).strip().casefold())
    return _(label) if label else str(value)


_STAFF_RANGE = re.compile(r"\d{1,7}\s*[-–]\s*\d{1,7}|\d{1,7}\+")
_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z][\w-]*)\s*=\s*")


def profile_pairs(text: str) -> list[str]:
    """`key=value` pairs from what an owner typed, values with spaces included: a value runs up
    to the next known key (`business_name=Rosie's Cakes & Co staff=6`), or is quoted (straight
    or curly quotes, as phone keyboards type them), and then may hold anything, `key=` too
    (`goals="hire staff=2 more"`)."""
    keys = [m for m in _KEY.finditer(text) if _is_key(m.group(1))]
    before = text[: keys[0].start()].strip() if keys else text.strip()
    if before:
        raise ProfileError(NOT_A_SETTING, pair=before, keys=", ".join(Profile.keys()))
    pairs, taken = [], 0
    for match in keys:
        if match.start() < taken:  # inside the previous key's quoted value
            continue
        quoted = _quoted_value(text, match.end())
        if quoted is not None:
            value, taken = quoted
        else:
            taken = next((k.start() for k in keys if k.start() > match.start()), len(text))
            value = text[match.end() : taken].strip()
        pairs.append(f"{match.group(1)}={value}")
    return pairs


_QUOTES = {'"': '"', "'": "'", "“": "”", "”": "”", "„": "“", "‘": "’", "«": "»"}  # opening -> closing


def _is_key(name: str) -> bool:
    return name.lower().replace("-", "_") in PROFILE_ALIASES


def _quoted_value(text: str, start: int) -> tuple[str, int] | None:
    """The value quoted from `start` and where it ends: at a closing quote followed by the end
    or by the next key (so an apostrophe inside, "Rosie's", does not end it); None if unquoted."""
    closing = _QUOTES.get(text[start : start + 1])
    if closing is None:
        return None
    for found in re.finditer(re.escape(closing), text[start + 1 :]):
        end = start + 1 + found.start()
        rest = text[end + 1 :].lstrip()
        key = _KEY.match(rest)
        if not rest or (key and _is_key(key.group(1))):
            return text[start + 1 : end].strip(), end + 1
    return None


# The stages /profile offers, as the `audience` words knowledge files use in their front matter.
STAGE_AUDIENCE = {
    "just starting": ("founders", "start-ups", "new businesses"),
    "selling abroad": ("exporters",),
    "selling online": ("online sellers",),
}
INDUSTRY_AUDIENCE = {"retail": ("retailers",), "food and drink": ("hospitality",), "online retail": ("online sellers",)}


def _clean(name: str, value: str) -> object:
    if name == "staff":
        if value == "":
            return None
        if value.isdigit() and int(value) <= 1_000_000:
            return int(value)
        if _STAFF_RANGE.fullmatch(value):
            return re.sub(r"\s+", "", value).replace("-", "–")  # "2 - 9" as the button's "2–9"
        raise ProfileError(
            N_("staff must be a whole number of people, e.g. staff=6, or a range like 2-9 (got '{value}')"), value=value
        )
    if len(value) > 200:
        raise ProfileError(N_("{name} is too long (at most 200 characters)"), name=name)
    return value
