"""Which section answers a question, and whether any does: the covered decision.

An owner judges the advisor by the section it leads with, and a wrong answer given with
confidence is worse than "I don't have material on that — a consultant can help". The
retriever gives each candidate section its signals (`bot.index.sections`: how close its prose
and its questions are in each embedding space, how much of the question's wording it holds).
A logistic model turns them into the chance that the section answers the question; the best
section leads, and when its chance is below MIN_CONFIDENCE the advisor declines instead.

The model is fitted on the labelled tuning set (`knowledge/eval/questions.yaml`, never on the
held-out set) by `python bench/calibrate_coverage.py`, which writes `coverage.json` beside this
module. It has one variant per set of signals a question can have: both spaces (an English
question offline), one space (with an LLM, where the second model's embedding is not worth its
time; or EMBEDDING_BACKEND with one model), and the multilingual space without word overlap (a
question in another language than the knowledge). A question is judged by the richest variant
its signals fill.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bot.advisor.conversation import asks_for_example, word_count
from bot.index.regions import is_regional, names_region
from bot.index.retriever import Preferences, matched_preferences
from bot.index.sections import SectionMatch

MODEL_FILE = Path(__file__).with_name("coverage.json")
PREFER_LOGIT = 0.3  # a section written for the owner (region, audience, tags) breaks near-ties in its favour
# A section that illustrates (`Section.illustration`) shares the words of the question it shows a
# case of, so it often outscores the section that answers; it steps back unless a case is asked for.
ILLUSTRATION_LOGIT = -1.5
# A section written for some countries' owners (front matter `region: [UK]`) steps back for an owner
# who neither named one of them nor lives there (`bot.advisor.regions`): "how do I get a loan?" is
# answered by the general sections, not by one country's scheme.
ELSEWHERE_LOGIT = -1.0


@dataclass(frozen=True)
class Variant:
    """Two logistic models over named signals. The first scores each section (how likely it
    answers, on its own signals): the best leads. The second says how sure that is, from the
    lead's score, its margin over the next section, how many of the single signals agree on it,
    and its own signals (`question_features`)."""

    name: str
    weights: dict[str, float]
    bias: float
    sure: dict[str, float] = field(default_factory=dict)
    sure_bias: float = 0.0
    threshold: float | None = None  # how sure a lead judged by this variant must be (None: the model's)

    def fits(self, features: dict[str, float]) -> bool:
        return all(name in features for name in self.weights)

    def logit(self, features: dict[str, float]) -> float:
        return self.bias + sum(weight * features[name] for name, weight in self.weights.items())

    def confidence(self, ranked: list[tuple[SectionMatch, float]], question: str = "") -> float:
        """How likely the lead of `ranked` ((match, logit), best first) answers `question`."""
        if not ranked:
            return 0.0
        if not self.sure:
            return _sigmoid(ranked[0][1])
        features = question_features(self, ranked, question)
        return _sigmoid(self.sure_bias + sum(w * features.get(n, 0.0) for n, w in self.sure.items()))


def question_features(variant: Variant, ranked: list[tuple[SectionMatch, float]], question: str) -> dict[str, float]:
    """What says how sure a lead is: its score (`lead`), its margin over the next section, how many
    of the variant's similarity signals rank it first on their own (`agree`), the question's
    length (a long story is matched less surely than a short question), and the lead's signals."""
    lead, score = ranked[0]
    features = {
        "lead": score,
        "margin": score - ranked[1][1] if len(ranked) > 1 else 5.0,
        "length": math.log1p(word_count(question)),
    }
    signals = [name for name in variant.weights if name != "words"]
    features["agree"] = float(
        sum(
            1
            for name in signals
            if lead.features().get(name, 0.0) >= max(match.features().get(name, 0.0) for match, _ in ranked)
        )
    )
    return features | {f"lead.{name}": value for name, value in lead.features().items()}


@dataclass(frozen=True)
class CoverageModel:
    """The variants, richest first, and the confidence below which a question is not covered."""

    variants: tuple[Variant, ...]
    threshold: float

    @classmethod
    def from_dict(cls, data: dict) -> CoverageModel:
        variants = tuple(
            Variant(
                v["name"],
                dict(v["weights"]),
                float(v["bias"]),
                dict(v.get("sure", {})),
                float(v.get("sure_bias", 0.0)),
                v.get("threshold"),
            )
            for v in data["variants"]
        )
        return cls(variants, float(data["threshold"]))

    def variant_for(self, features: dict[str, float]) -> Variant | None:
        return next((v for v in self.variants if v.fits(features)), None)

    def judge(
        self,
        question: str,
        matches: Iterable[SectionMatch],
        prefer: Preferences | None = None,
        exclude: Iterable[str] = (),
        threshold: float | None = None,
    ) -> Judgement:
        """The candidate sections for `question` by their chance of answering, best first,
        leaving out the sections in `exclude` (keys an owner was already shown); covered when
        the lead's confidence reaches `threshold` (default: the calibrated one)."""
        shown = set(exclude)
        scored, variants = [], {}
        wants_case = asks_for_example(question)
        for match in matches:
            features = match.features()
            variant = self.variant_for(features)
            if match.key in shown or variant is None:
                continue
            fits = matched_preferences(match.section, prefer or {})
            logit = variant.logit(features) + (PREFER_LOGIT if fits else 0.0)
            if match.section.illustration and not wants_case:
                logit += ILLUSTRATION_LOGIT
            if is_regional(match.section.region) and not fits and not names_region(question, match.section.region):
                logit += ELSEWHERE_LOGIT
            scored.append((match, logit))
            variants[match.key] = variant
        if not scored:
            return Judgement()
        scored.sort(key=lambda pair: -pair[1])
        variant = variants[scored[0][0].key]  # the lead's signals say how sure it is
        confidence = variant.confidence(scored, question)
        limit = threshold if threshold is not None else variant.threshold or self.threshold
        ranked = [(match, _sigmoid(logit)) for match, logit in scored]
        return Judgement(ranked, confidence, confidence >= limit, variant.name)


@dataclass
class Judgement:
    """The candidate sections with their chance of answering, best first; `covered` when the
    best one's is high enough to lead an answer."""

    ranked: list[tuple[SectionMatch, float]] = field(default_factory=list)
    confidence: float = 0.0
    covered: bool = False
    variant: str = ""  # which of the model's variants judged it

    @property
    def lead(self) -> SectionMatch | None:
        return self.ranked[0][0] if self.ranked else None

    def near(self, margin: float, floor: float = 0.0) -> list[tuple[SectionMatch, float]]:
        """The sections after the lead (with their chance) within `margin` of its chance, and at least `floor`."""
        if not self.ranked:
            return []
        lowest = max(self.ranked[0][1] - margin, floor)
        return [(match, chance) for match, chance in self.ranked[1:] if chance >= lowest]


def _sigmoid(logit: float) -> float:
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))


@cache
def default_model() -> CoverageModel:
    """The calibrated model shipped with the package (`coverage.json`)."""
    return CoverageModel.from_dict(json.loads(MODEL_FILE.read_text(encoding="utf-8")))
