"""The advisor: a question (with the conversation and the owner's profile) → an `Answer` with sources.

- `pipeline`: the `Advisor` (retrieve, answer with the chat model, fall back offline), `make_advisor`
- `answer`: `Answer`, `Source`, `Failure`: what channels show and storage records
- `offline`: the answer composed from passages without an LLM
- `units`: a passage as sentences and list items, lines that instruct the reader left out
- `citations`: checks the model's `[n]` citations as the text streams
- `chat_model`: the langchain chat model from settings (`make_chat_model`)
- `prompts`: the editable templates in `prompts/`, checked at start
- `texts`: the advisor's fixed texts, in the owner's language
- `conversation`: earlier exchanges, the owner's `Profile`, follow-up questions, long messages
- `smalltalk`: "hi", "thanks", "who are you?" recognised and answered without a search
- `speech`: voice notes → transcripts through an OpenAI-compatible speech-to-text service (`SpeechToText`)
- `when`: reminder times ("in 2 weeks …", "every month …"), time zones, a repeating reminder's next time
- `evaluation`: do offline answers lead with and cite the expected file (the eval's answer part)

May import `bot.index`, `bot.knowledge` (token counts), `bot.locales` and `bot.config`. It knows no
channel, no database and no Telegram: channels load memory and profile and pass them in.
"""

from bot.advisor.answer import Answer, Failure, Mode, Source
from bot.advisor.pipeline import FALLBACK_NOTE, Advisor, make_advisor

__all__ = ["FALLBACK_NOTE", "Advisor", "Answer", "Failure", "Mode", "Source", "make_advisor"]
