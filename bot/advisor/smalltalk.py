"""Small talk: "hi", "thanks!", "ok", "who are you?", "what can you do?" get a short, friendly
reply instead of a search of the knowledge base.

They are recognised from a small, explicit list of phrases per language (the dozen languages
most owners on Telegram write in), and only in short messages: "hi, how do I get a loan?" is a
question, not a greeting. No model is called, no question limit is counted, and no knowledge
gap is recorded for them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from bot.locales import N_

Kind = Literal["greeting", "thanks", "ack", "farewell", "identity", "capabilities"]

MAX_WORDS = 6  # longer messages are questions, even when they start with "hi"

# Phrases by kind, lower-case, without punctuation; grouped by language for whoever adds one.
# Not "yes" or "no": they answer the questions an LLM asks back.
PHRASES: dict[Kind, dict[str, tuple[str, ...]]] = {
    "greeting": {
        "en": (
            "hi",
            "hello",
            "hey",
            "hiya",
            "good morning",
            "good afternoon",
            "good evening",
            "hi there",
            "hello there",
            "hey there",
            "yo",
            "greetings",
            "howdy",
            "start",
        ),
        "es": ("hola", "buenos dias", "buenas tardes", "buenas noches", "buenas"),
        "pt": ("ola", "oi", "bom dia", "boa tarde", "boa noite"),
        "fr": ("bonjour", "salut", "bonsoir", "coucou"),
        "de": ("hallo", "guten morgen", "guten tag", "guten abend", "servus", "moin"),
        "it": ("ciao", "buongiorno", "buonasera", "salve"),
        "ru": ("привет", "здравствуйте", "здравствуй", "добрый день", "доброе утро", "добрый вечер"),
        "uk": ("привіт", "вітаю", "добрий день", "доброго ранку", "добрий вечір"),
        "id": ("halo", "hai", "selamat pagi", "selamat siang", "selamat sore", "selamat malam"),
        "tr": ("merhaba", "selam", "günaydın", "iyi günler", "iyi akşamlar"),
        "ar": ("مرحبا", "السلام عليكم", "اهلا", "أهلا", "اهلا وسهلا", "أهلا وسهلا", "صباح الخير", "مساء الخير"),
        "fa": ("سلام", "درود", "صبح بخیر", "عصر بخیر"),
        "hi": ("नमस्ते", "नमस्कार", "namaste", "namaskar"),
        "zh": ("你好", "您好", "嗨", "哈喽", "早上好", "早安", "下午好", "晚上好", "大家好"),
    },
    "thanks": {
        "en": (
            "thanks",
            "thank you",
            "thx",
            "ty",
            "cheers",
            "thanks a lot",
            "thank you so much",
            "many thanks",
            "thanks so much",
            "great thanks",
            "ok thanks",
            "ok thank you",
            "perfect thanks",
        ),
        "es": ("gracias", "muchas gracias", "mil gracias"),
        "pt": ("obrigado", "obrigada", "muito obrigado", "muito obrigada", "valeu"),
        "fr": ("merci", "merci beaucoup"),
        "de": ("danke", "danke schön", "danke schon", "vielen dank"),
        "it": ("grazie", "grazie mille"),
        "ru": ("спасибо", "спасибо большое", "благодарю"),
        "uk": ("дякую", "дуже дякую", "спасибі"),
        "id": ("terima kasih", "makasih", "trims"),
        "tr": ("teşekkürler", "teşekkür ederim", "sağol", "sağ ol"),
        "ar": ("شكرا", "شكرا جزيلا", "شكراً", "شكرا لك", "مشكور"),
        "fa": ("ممنون", "مرسی", "سپاس", "متشکرم"),
        "hi": ("धन्यवाद", "शुक्रिया", "dhanyavad", "shukriya"),
        "zh": (
            "谢谢",
            "谢谢你",
            "谢谢您",
            "多谢",
            "非常感谢",
            "感谢",
            "太感谢了",
            "谢啦",
            "谢谢你的帮助",
            "谢谢您的帮助",
        ),
    },
    "ack": {
        "en": (
            "ok",
            "okay",
            "k",
            "kk",
            "got it",
            "cool",
            "great",
            "nice",
            "sure",
            "alright",
            "understood",
            "fine",
            "good",
            "noted",
            "awesome",
            "perfect",
        ),
        "es": ("vale", "de acuerdo", "entendido", "perfecto", "bien"),
        "pt": ("ok", "beleza", "entendi", "certo", "tudo bem"),
        "fr": ("d'accord", "daccord", "compris", "parfait"),
        "de": ("ok", "alles klar", "verstanden", "gut"),
        "it": ("va bene", "capito", "perfetto"),
        "ru": ("ок", "окей", "хорошо", "понятно", "ясно", "ладно"),
        "uk": ("ок", "добре", "зрозуміло", "гаразд"),
        "id": ("oke", "baik", "siap", "mengerti"),
        "tr": ("tamam", "anladım", "peki"),
        "ar": ("حسنا", "تمام", "فهمت", "طيب", "اوكي", "أوكي", "ماشي"),
        "fa": ("باشه", "فهمیدم"),
        "hi": ("ठीक है", "theek hai", "samajh gaya"),
        "zh": (
            "好的",
            "好",
            "明白了",
            "明白",
            "知道了",
            "收到",
            "行",
            "可以",
            "懂了",
            "嗯",
            "嗯嗯",
            "哦",
            "好吧",
            "没问题",
        ),
    },
    "farewell": {
        "en": ("bye", "goodbye", "good bye", "see you", "see ya", "good night", "later", "ciao"),
        "es": ("adios", "adiós", "hasta luego", "chao"),
        "pt": ("tchau", "até logo", "ate logo", "adeus"),
        "fr": ("au revoir", "à bientôt", "a bientot", "bonne nuit"),
        "de": ("tschüss", "tschuss", "auf wiedersehen", "bis bald", "gute nacht"),
        "it": ("arrivederci", "a presto", "buonanotte"),
        "ru": ("пока", "до свидания", "до встречи"),
        "uk": ("бувай", "до побачення", "па"),
        "id": ("dadah", "sampai jumpa", "selamat tinggal"),
        "tr": ("hoşçakal", "görüşürüz", "güle güle"),
        "ar": ("مع السلامة", "الى اللقاء", "إلى اللقاء"),
        "fa": ("خداحافظ", "بدرود"),
        "hi": ("अलविदा", "फिर मिलेंगे", "alvida"),
        "zh": ("再见", "拜拜", "回头见", "晚安", "下次见"),
    },
    "identity": {
        "en": (
            "who are you",
            "what are you",
            "are you a bot",
            "are you human",
            "are you a robot",
            "who is this",
            "are you real",
            "are you ai",
            "are you an ai",
        ),
        "es": ("quien eres", "quién eres", "eres un bot", "que eres", "qué eres"),
        "pt": ("quem é você", "quem e voce", "você é um robô", "voce e um robo"),
        "fr": ("qui es tu", "qui êtes vous", "tu es un robot", "es tu un robot"),
        "de": ("wer bist du", "bist du ein bot", "was bist du"),
        "it": ("chi sei", "sei un bot"),
        "ru": ("кто ты", "ты бот", "кто вы", "вы бот"),
        "uk": ("хто ти", "ти бот", "хто ви"),
        "id": ("siapa kamu", "kamu siapa", "apakah kamu bot"),
        "tr": ("sen kimsin", "kimsin", "bot musun"),
        "ar": ("من انت", "من أنت", "هل انت بوت", "هل أنت بوت", "ما انت", "ما أنت"),
        "fa": ("تو کی هستی", "شما کی هستید", "ربات هستی"),
        "hi": ("तुम कौन हो", "आप कौन हैं", "kaun ho"),
        "zh": ("你是谁", "您是谁", "你是机器人吗", "你是人吗", "你是什么"),
    },
    "capabilities": {
        "en": (
            "what can you do",
            "what do you do",
            "how can you help",
            "how can you help me",
            "help me",
            "what can i ask",
            "what can i ask you",
            "what do you know",
            "what are you for",
            "how does this work",
            "how do you work",
            "what topics",
            "what can you help with",
        ),
        "es": ("que puedes hacer", "qué puedes hacer", "en que me ayudas", "en qué me puedes ayudar", "ayuda"),
        "pt": ("o que você faz", "o que voce faz", "o que você pode fazer", "como você pode ajudar", "ajuda"),
        "fr": ("que peux tu faire", "qu'est ce que tu fais", "comment peux tu m'aider", "aide"),
        "de": ("was kannst du", "was kannst du tun", "wie kannst du helfen", "hilfe"),
        "it": ("cosa sai fare", "come puoi aiutarmi", "aiuto"),
        "ru": ("что ты умеешь", "что ты можешь", "чем ты можешь помочь", "помощь", "помоги"),
        "uk": ("що ти вмієш", "що ти можеш", "чим ти можеш допомогти", "допомога"),
        "id": ("apa yang bisa kamu lakukan", "bisa bantu apa", "bantuan"),
        "tr": ("ne yapabilirsin", "nasıl yardımcı olabilirsin", "yardım"),
        "ar": ("ماذا تستطيع ان تفعل", "كيف يمكنك مساعدتي", "مساعدة"),
        "fa": ("چه کاری میتونی بکنی", "چطور کمک میکنی", "کمک"),
        "hi": ("आप क्या कर सकते हैं", "तुम क्या कर सकते हो", "मदद"),
        "zh": ("你能做什么", "你会什么", "你能帮我什么", "怎么用", "帮助"),
    },
}

REPLIES: dict[Kind, str] = {  # translated where shown (`bot.locales`)
    "greeting": N_(
        "Hello! I'm SME Advisor. Ask me anything about growing your business, credit and cash, "
        "long-term strategy or selling abroad."
    ),
    "thanks": N_("You're welcome! Ask me anything else whenever you like."),
    "ack": N_("👍 Ask me anything else whenever you like."),
    "farewell": N_("Goodbye, and good luck with the business! I'm here whenever you need me."),
    "identity": N_(
        "I'm SME Advisor, an assistant that answers small-business questions from a knowledge base "
        "written by business consultants, and shows the sources. I'm not a person."
    ),
    "capabilities": N_(
        "I give short, practical answers, with sources, on growing a small business (platforms, "
        "partners, outsourcing), credit and working capital without collateral, long-term strategy and ten-year "
        "plans, trade and selling abroad, and day-to-day operations. Just type your question."
    ),
}


EXAMPLE_QUESTIONS = [  # shown with a greeting and /start: buttons on Telegram, lines in the terminal
    N_("How can I get working capital without collateral?"),
    N_("Should I sell cross-border?"),
    N_("What should my 10-year plan look like?"),
    N_("What should a small business outsource first?"),
]


@dataclass(frozen=True)
class SmallTalk:
    kind: Kind
    reply: str  # in English; `_(reply)` in the owner's language
    language: str = "en"  # the language of the phrase recognised ("привет": ru)

    @property
    def shows_examples(self) -> bool:
        """Greetings and "what can you do?" come with example questions to tap."""
        return self.kind in ("greeting", "capabilities")


def _folded(text: str) -> str:
    """`text` without accents and other combining marks, on both sides of the lookup: "Olá" is
    "ola", "¿Quién eres?" is "quien eres", "شكراً" is "شكرا", whichever way an owner's keyboard
    writes them."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


_LOOKUP: dict[str, tuple[Kind, str]] = {}
for _kind, _by_language in PHRASES.items():
    for _language, _phrases in _by_language.items():
        for _phrase in _phrases:
            _LOOKUP.setdefault(_folded(_phrase), (_kind, _language))  # "ok" is English first
_FILLERS = ("there", "bot", "advisor", "sme advisor", "again", "so much", "a lot", "very much", "friend", "please")
_PARTICLES = re.compile(r"(?<=\w)[啊呀吧哦呢啦哈嘛喔哟]+$")  # "你好啊", "谢谢啦": Chinese softens with a particle
_PUNCTUATION = re.compile(r"[^\w\s'’]+")
_CLAUSES = re.compile(r"[,.!?;:…，。！？；：、،؟]+")  # "ok, thanks!", "好的，谢谢", "hi, who are you?"
# Of a message made of several small talks, the one answered: a question about the bot before thanks,
# thanks before a greeting ("hi, who are you?" is answered as "who are you?").
_WEIGHT: tuple[Kind, ...] = ("ack", "greeting", "farewell", "thanks", "identity", "capabilities")


def small_talk(message: str) -> SmallTalk | None:
    """The small talk `message` is, or None for anything that may be a question. Scripts
    without spaces between words (Chinese) are matched by whole phrase, like the others."""
    words = _normalised(message)
    if not words or len(words.split()) > MAX_WORDS:
        return None
    found = _phrase(words)
    if found is None:
        clauses = [clause for clause in (_normalised(part) for part in _CLAUSES.split(message)) if clause]
        each = [_phrase(clause) for clause in clauses]
        if len(clauses) > 1 and all(each):
            kind = max((kind for kind, _language in each), key=_WEIGHT.index)
            language = next((language for _kind, language in each if language != "en"), "en")
            found = (kind, language)
    return SmallTalk(found[0], REPLIES[found[0]], found[1]) if found else None


def _phrase(words: str) -> tuple[Kind, str] | None:
    """The kind and language of one phrase: as written, without fillers, or without a particle."""
    return _LOOKUP.get(words) or _LOOKUP.get(_without_fillers(words)) or _LOOKUP.get(_PARTICLES.sub("", words))


def _normalised(message: str) -> str:
    text = _folded(unicodedata.normalize("NFKC", message).lower().replace("’", "'"))
    text = _PUNCTUATION.sub(" ", text)  # emoji and punctuation: "thanks!!! 🙏" is "thanks"
    return " ".join(text.split())


def _without_fillers(words: str) -> str:
    for filler in _FILLERS:
        words = re.sub(rf"(?:^| ){re.escape(filler)}(?= |$)", "", words).strip()
    return " ".join(words.split())
