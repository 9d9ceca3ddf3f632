"""Prompt templates are checked without langchain, exactly as langchain's `PromptTemplate` reads them."""

from __future__ import annotations

import pytest
from langchain_core.prompts import PromptTemplate

from bot.advisor.prompts import load_prompts, template_variables
from bot.config import load_settings

TEMPLATES = [
    "Answer {question} from {passages}.",
    "Literal {{braces}} and {question}",
    "{}",
    "{a.b}",
    "{a[0]}",
    "{0}",
    "{a:{b}}",
    "{a!r}",
    "unbalanced {question",
    "unbalanced }",
    "{question:>10}",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_placeholders_and_refusals_are_langchains(template):
    try:
        expected = set(PromptTemplate.from_template(template).input_variables)
    except ValueError:
        with pytest.raises(ValueError):
            template_variables(template)
    else:
        assert template_variables(template) == expected


def test_langchains_templates_are_built_on_first_use():
    prompts = load_prompts(load_settings(_env_file=None).prompts_dir)
    assert "answer" not in vars(prompts)  # not built yet: offline mode never builds them
    assert {"passages", "question"} <= set(prompts.answer.input_variables)
    assert set(prompts.rewrite.input_variables) >= {"history", "question"}
