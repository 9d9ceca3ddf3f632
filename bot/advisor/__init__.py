"""The advisor: a question (with the conversation and the owner's profile) → an `Answer` with sources.

- `pipeline`: the `Advisor` (find what answers, answer with the chat model, fall back offline), `make_advisor`
- `lookup`: what answers a question: the sections, the owner's documents, follow-ups (`Lookup`, `Found`)
- `coverage`: which section leads and whether any does, the calibrated model (`CoverageModel`, `coverage.json`)
- `answer`: `Answer`, `Source`, `Failure`: what channels show and storage records
- `suggestions`: the questions suggested under an answer, in the owner's language where they can be had
- `offline`: the answer composed from a section's opening without an LLM
- `blocks`: a section's text as an owner reads it: paragraphs, whole lists, titles for paths
- `model_answer`: the model's calls: the rewrite of a question, the streamed answer (`ModelAnswers`)
- `citations`: checks the model's `[n]` citations as the text streams
- `chat_model`: the langchain chat model from settings (`make_chat_model`)
- `prompts`: the editable templates in `prompts/`, checked at start
- `texts`: the advisor's fixed texts, in the owner's language
- `conversation`: earlier exchanges, follow-up questions, long messages
- `profile`: the owner's `Profile`, its `key=value` form and /profile's choices, shown in the owner's language
- `smalltalk`: "hi", "thanks", "who are you?" recognised and answered without a search
- `speech`: voice notes → transcripts through an OpenAI-compatible speech-to-text service (`SpeechToText`)
- `when`: reminder times ("in 2 weeks …", "every month …"), time zones, a repeating reminder's next time
- `evaluation`: what owners see on the eval sets: the section an offline answer leads with, or an honest no
- `guard`: the eval's check before a consultant's entry goes live: the leads it would take from nearby eval questions

May import `bot.index`, `bot.knowledge` (token counts), `bot.locales` and `bot.config`. It knows no
channel, no database and no Telegram: channels load memory and profile and pass them in.
"""

from bot.advisor.answer import Answer, Failure, Mode, Source
from bot.advisor.pipeline import FALLBACK_NOTE, Advisor, make_advisor

__all__ = ["FALLBACK_NOTE", "Advisor", "Answer", "Failure", "Mode", "Source", "make_advisor"]
