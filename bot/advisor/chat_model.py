"""The chat model, built from settings with langchain's `init_chat_model`.

`LLM_MODEL` is langchain's `provider:model` (`openai:gpt-4o-mini`,
`anthropic:claude-…`, `ollama:llama3.1`). Any OpenAI-compatible server
(Ollama, vLLM, llama.cpp, LM Studio, hosted gateways) works as
`openai:<model>` with `LLM_BASE_URL`. No model set means offline answers. Also here: reading
a streamed chunk's text and describing a failed call.
"""

from __future__ import annotations

import re

from bot.config import Settings

# provider -> the pyproject extra that installs its langchain package
PROVIDER_EXTRAS = {
    "anthropic": "anthropic",
    "ollama": "ollama",
    "google_genai": "google",
    "mistralai": "mistral",
    "groq": "groq",
}


class LLMConfigError(Exception):
    """LLM settings that cannot work; the message says what to change or install."""


def make_chat_model(settings: Settings):
    """The configured langchain chat model, or None when LLM_MODEL is not set (offline mode)."""
    if not settings.llm_model:
        return None
    from langchain.chat_models import init_chat_model

    provider = settings.llm_model.partition(":")[0] if ":" in settings.llm_model else ""
    try:
        return init_chat_model(settings.llm_model, **_model_kwargs(settings, provider))
    except ImportError as exc:
        extra = PROVIDER_EXTRAS.get(provider)
        how = f"pip install -e '.[{extra}]'" if extra else str(exc).split("Please install it with ")[-1].strip("`")
        raise LLMConfigError(f"LLM_MODEL={settings.llm_model} needs its provider package: {how}") from None
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0]
        raise LLMConfigError(
            f"LLM_MODEL={settings.llm_model} is not usable ({first}); write it as provider:model, "
            "e.g. openai:gpt-4o-mini or ollama:llama3.1"
        ) from None
    except Exception as exc:  # the provider's client refusing its settings, e.g. no API key
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        keyless = "key" in first.lower() or "credential" in first.lower()
        hint = "set LLM_API_KEY (or LLM_BASE_URL for a local server)" if keyless else "check the LLM_ settings"
        raise LLMConfigError(f"LLM_MODEL={settings.llm_model} cannot be used: {first[:300]}; {hint}") from None


def _model_kwargs(settings: Settings, provider: str) -> dict:
    kwargs: dict = {"temperature": settings.llm_temperature}
    if provider == "ollama":
        kwargs["num_predict"] = settings.llm_max_tokens
        if settings.llm_base_url:
            kwargs["base_url"] = settings.llm_base_url
        return kwargs
    kwargs.update(
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
    )
    if settings.llm_base_url:
        kwargs["base_url"] = settings.llm_base_url
    if settings.llm_api_key is not None:
        kwargs["api_key"] = settings.llm_api_key.get_secret_value()
    elif settings.llm_base_url:
        kwargs["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore it; the client insists
    if provider in ("openai", ""):
        kwargs["stream_usage"] = True  # token counts also when streaming
    return kwargs


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_controls(text: str) -> str:
    """`text` without C0 control characters and DEL (tab and line breaks stay): none is ever
    wanted in an answer, and a NUL breaks Telegram formatting."""
    return _CONTROL.sub("", text)


def chunk_text(content) -> str:
    """A streamed chunk's text (for some providers a list of typed parts), without control
    characters (`without_controls`)."""
    if not isinstance(content, str):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return without_controls(content)


def describe_failure(exc: BaseException) -> str:
    """A model call's failure in a few words, for the log and the transcript."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    return f"{name} (HTTP {status})" if status else f"{name}: {exc}"[:200]
