"""Fit the covered decision (`bot/advisor/coverage.json`) on the labelled tuning set.

    python bench/calibrate_coverage.py            # fit, report, write bot/advisor/coverage.json
    python bench/calibrate_coverage.py --check    # fit and report only (the shipped file is left alone)

Reads knowledge/eval/questions.yaml and its translation questions.languages.yaml only: never the
held-out sets, which are what `python -m bot eval` checks the result on. For every question
asked on its own, every candidate section the retriever gives (`Retriever.sections`, both
embedding spaces) is a labelled example: does this section answer the question (one of its
`sections`)? A not-covered question's candidates are all "no". One pair of logistic models per
set of signals (`bot.advisor.coverage`: both spaces; one space, as with an LLM; the multilingual
space with word overlap, and without it for a question in another language than the knowledge;
each also for sections without ways of asking) is fitted on them.

The threshold (MIN_CONFIDENCE's default) is chosen on out-of-fold chances (5 folds, so no
question is judged by a model fitted on it): the one that makes the most answers right or
honestly declined while at most --max-wrong of the answers are confidently wrong. The run's
figures, and the whole trade-off curve, go to bench/results/calibration.json.

The index must be up to date with knowledge/ (`python ingest.py`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time

import numpy as np
from common import ROOT, write_result

from bot.advisor.coverage import MODEL_FILE, CoverageModel, Variant, question_features
from bot.config import load_settings
from bot.index.evaluation import load_eval_set
from bot.index.retriever import make_retriever

VARIANTS = {  # richest first: a section is judged by the first whose signals it has
    "both spaces": ("dense.minilm", "asked.minilm", "dense.e5", "asked.e5", "words"),
    "minilm": ("dense.minilm", "asked.minilm", "words"),
    "e5 with words": ("dense.e5", "asked.e5", "words"),
    "e5": ("dense.e5", "asked.e5"),
    # sections without ways of asking (a consultant's PDF, a file not yet given an Asked block)
    "both spaces, prose": ("dense.minilm", "dense.e5", "words"),
    "minilm, prose": ("dense.minilm", "words"),
    "e5 with words, prose": ("dense.e5", "words"),
    "e5, prose": ("dense.e5",),
}
# A question in another language than the knowledge has no word overlap to count and is read by
# the multilingual model alone: its variants are fitted on the tuning set's questions as owners
# ask them in eight other languages.
OTHER_LANGUAGES = {"e5", "e5, prose"}
FOLDS = 5
L2 = 1.0  # ridge on the weights: a few hundred questions, a handful of signals


def logistic(features: np.ndarray, labels: np.ndarray, l2: float = L2, steps: int = 60) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    x = np.c_[features, np.ones(len(features))]
    w = np.zeros(x.shape[1])
    ridge = np.diag(np.r_[np.full(len(w) - 1, l2), 0.0])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - labels) + ridge @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
        w -= np.linalg.solve(hessian, gradient)
    return w


def examples(retriever, questions) -> list[dict]:
    """Each question asked on its own with its candidate sections (`SectionMatch`) and which answer."""
    found = []
    for question in questions:
        if question.after:
            continue
        search = retriever.sections(question.question, second_opinion=True)
        found.append({"question": question, "matches": search.matches})
    return found


def fit_sections(rows: list[dict], names: tuple[str, ...]) -> Variant:
    """The first model: does a section answer, from its own signals."""
    features = [[m.features().get(n, 0.0) for n in names] for row in rows for m in row["matches"]]
    labels = [float(m.key in row["question"].sections) for row in rows for m in row["matches"]]
    weights = logistic(np.array(features), np.array(labels))
    return Variant("", dict(zip(names, map(float, weights[:-1]), strict=True)), float(weights[-1]))


def ranked(row: dict, variant: Variant) -> list[tuple]:
    # a section without the variant's signals (no ways of asking) is judged by another variant
    scored = [(m, variant.logit(m.features())) for m in row["matches"] if variant.fits(m.features())]
    return sorted(scored, key=lambda pair: -pair[1])


def sure_names(variant: Variant) -> list[str]:
    return ["lead", "margin", "agree", "length", *(f"lead.{n}" for n in variant.weights)]


def fit_sure(rows: list[dict], variant: Variant) -> Variant:
    """The second model: is the lead right, from `question_features`."""
    names = sure_names(variant)
    features, labels = [], []
    for row in rows:
        order = ranked(row, variant)
        if not order:
            continue
        found = question_features(variant, order, row["question"].question)
        features.append([found.get(n, 0.0) for n in names])
        labels.append(float(order[0][0].key in row["question"].sections))
    weights = logistic(np.array(features), np.array(labels))
    sure = dict(zip(names, map(float, weights[:-1]), strict=True))
    return Variant(variant.name, variant.weights, variant.bias, sure, float(weights[-1]))


def fit(rows: list[dict], name: str, names: tuple[str, ...]) -> Variant:
    first = fit_sections(rows, names)
    return fit_sure(rows, Variant(name, first.weights, first.bias))


def out_of_fold(rows: list[dict], name: str, names: tuple[str, ...]) -> list[tuple[float, str]]:
    """(how sure of the lead, what it would be if answered: right, wrong or not covered), each
    question judged by models fitted on the other folds."""
    order = list(range(len(rows)))
    random.Random(26).shuffle(order)
    judged: list[tuple[float, str]] = []
    for fold in range(FOLDS):
        held = set(order[fold::FOLDS])
        variant = fit([rows[i] for i in order if i not in held], name, names)
        for i in sorted(held):
            scored = ranked(rows[i], variant)
            right = bool(scored) and scored[0][0].key in rows[i]["question"].sections
            kind = "not covered" if rows[i]["question"].not_covered else ("right" if right else "wrong")
            judged.append((variant.confidence(scored, rows[i]["question"].question), kind))
    return judged


def rounded(variant: Variant) -> Variant:
    return Variant(
        variant.name,
        {n: round(w, 3) for n, w in variant.weights.items()},
        round(variant.bias, 3),
        {n: round(w, 3) for n, w in variant.sure.items()},
        round(variant.sure_bias, 3),
    )


def outcomes(judged: list[tuple[float, str]], threshold: float) -> dict:
    n = len(judged)
    answered = [kind for chance, kind in judged if chance >= threshold]
    declined = [kind for chance, kind in judged if chance < threshold]
    return {
        "threshold": round(threshold, 3),
        "lead_right": round(answered.count("right") / n, 4),
        "honest_not_covered": round(declined.count("not covered") / n, 4),
        "wrongly_declined": round((len(declined) - declined.count("not covered")) / n, 4),
        "confidently_wrong": round((answered.count("wrong") + answered.count("not covered")) / n, 4),
    }


def choose(judged: list[tuple[float, str]], max_wrong: float) -> tuple[dict, list[dict]]:
    curve = [outcomes(judged, t) for t in np.arange(0.05, 0.96, 0.01)]
    allowed = [c for c in curve if c["confidently_wrong"] <= max_wrong] or curve[-1:]
    best = max(allowed, key=lambda c: (c["lead_right"] + c["honest_not_covered"], -c["threshold"]))
    return best, curve[::5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report only; do not write coverage.json")
    parser.add_argument("--max-wrong", type=float, default=0.04, help="confidently wrong answers allowed (share)")
    args = parser.parse_args()
    started = time.perf_counter()
    settings = load_settings(knowledge_dir=ROOT / "knowledge")
    retriever = make_retriever(settings)
    folder = settings.knowledge_dir / "eval"
    rows = examples(retriever, load_eval_set(folder / "questions.yaml"))
    translated = examples(retriever, load_eval_set(folder / "questions.languages.yaml"))
    variants, report = [], {}
    for name, names in VARIANTS.items():
        data = translated if name in OTHER_LANGUAGES else rows
        best, curve = choose(out_of_fold(data, name, names), args.max_wrong)
        variants.append(dataclasses.replace(rounded(fit(data, name, names)), threshold=best["threshold"]))
        report[name] = {"chosen": best, "curve": curve}
        print(f"{name:14s} " + ", ".join(f"{k} {v}" for k, v in best.items()))
    threshold = report["both spaces"]["chosen"]["threshold"]
    model = CoverageModel(tuple(variants), threshold)
    if not args.check:
        data = {
            "fitted": {
                "on": "knowledge/eval/questions.yaml and questions.languages.yaml",
                "questions": len(rows),
                "translated": len(translated),
                "max_wrong": args.max_wrong,
                "date": time.strftime("%Y-%m-%d"),
            },
            "threshold": model.threshold,
            "variants": [
                {
                    "name": v.name,
                    "weights": v.weights,
                    "bias": v.bias,
                    "sure": v.sure,
                    "sure_bias": v.sure_bias,
                    "threshold": v.threshold,
                }
                for v in model.variants
            ],
        }
        MODEL_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)}", file=sys.stderr)
    write_result(
        "calibration",
        {
            "questions": len(rows),
            "max_wrong": args.max_wrong,
            "variants": report,
            "seconds": round(time.perf_counter() - started, 1),
        },
        False,
    )


if __name__ == "__main__":
    main()
