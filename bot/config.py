"""Every setting of SME Advisor in one typed object.

Settings come from the environment and from a `.env` file in the working
directory (see `.env.example`, which documents each one). Nothing here runs at
import time: call `load_settings()` where the program starts, so a bad value is
reported once, in one line, naming the setting.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # as date.weekday() counts


class SettingsError(Exception):
    """A setting has a value the program cannot use; the message names it."""


class Settings(BaseSettings):
    """SME Advisor's configuration. Field names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
    )

    # --- Knowledge and index -------------------------------------------------
    knowledge_dir: Path = Path("knowledge")
    data_dir: Path = Path("data")
    index_dir: Path | None = None
    chroma_url: str | None = None
    chroma_collection: str = Field("knowledge", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$")
    embedding_model: Path | None = None
    embedding_batch_size: int = Field(8, ge=1, le=1024)
    embedding_backend: Literal[
        "onnx", "onnx-q8", "onnx-int8", "torch", "e5", "onnx+e5", "onnx-q8+e5", "onnx-int8+e5"
    ] = "onnx-q8+e5"
    onnx_model_dir: Path | None = None
    embedding_cache: bool = True
    embedding_cache_dir: Path | None = None
    index_check_seconds: float = Field(2.0, ge=0, le=3600)
    chunk_size: int = Field(150, ge=50, le=2000)
    chunk_overlap: int = Field(30, ge=0, le=1000)
    max_file_mb: float = Field(5.0, gt=0, le=500)
    embed_headings: bool = True

    # --- Retrieval and answers -------------------------------------------------
    top_k: int = Field(5, ge=1, le=50)
    min_score: float = Field(0.32, ge=0.0, le=1.0)
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)  # None: the calibrated threshold (coverage.json)
    retrieval_mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    fusion_method: Literal["score", "rrf"] = "score"
    fusion_k: int = Field(60, ge=1, le=1000)  # reciprocal-rank fusion: 1 / (FUSION_K + rank)
    dense_weight: float = Field(1.0, ge=0.0, le=10.0)
    lexical_weight: float = Field(0.08, ge=0.0, le=10.0)  # chosen on bench/eval, checked on knowledge/eval

    # --- Telegram -----------------------------------------------------------------------
    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "0.0.0.0"
    telegram_webhook_port: int = Field(8443, ge=1, le=65535)
    telegram_webhook_secret: SecretStr | None = None
    admin_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    allowed_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    questions_per_minute: int = Field(10, ge=1, le=1000)
    questions_per_day: int = Field(100, ge=1, le=100_000)
    draft_interval: float = Field(1.0, ge=0.2, le=10)
    question_window_seconds: float = Field(1.5, ge=0, le=10)
    telegram_max_messages_per_second: float = Field(30, ge=0, le=1000)
    shutdown_grace_seconds: float = Field(20.0, ge=0, le=600)

    # --- People in the loop: hand-over, the admin chat, the digest ------------------------
    admin_chat_id: int | None = None  # a group of consultants; unset: each admin privately
    # consultants outside that group: /queue, /transcript, /gaps, /stats, /digest, /myname (not
    # access control, export or settings, which stay with ADMIN_USER_IDS)
    consultant_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    handover_hours: float = Field(24.0, gt=0, le=24 * 30)
    digest_time: str = "08:00"  # UTC, or off
    # the day the digest adds "Suggestions this week" (`python -m bot suggest`'s top 5): monday…sunday, daily, or off
    digest_suggestions_weekday: str = "monday"
    error_reports_per_hour: int = Field(10, ge=0, le=1000)
    consultants_may_publish: bool = True  # consultants (not only admins) may publish knowledge entries from Telegram

    # --- Voice notes, owners' documents, reminders ----------------------------------------
    stt_model: str | None = None  # e.g. whisper-1; unset: voice notes are not transcribed
    stt_base_url: str | None = None  # any OpenAI-compatible /audio/transcriptions server
    stt_api_key: SecretStr | None = None
    stt_timeout: float = Field(60.0, gt=0, le=600)
    voice_max_seconds: int = Field(300, ge=1, le=3600)
    voice_max_mb: float = Field(20.0, gt=0, le=50)
    store_audio: bool = False
    document_max_mb: float = Field(10.0, gt=0, le=50)
    document_max_pages: int = Field(50, ge=1, le=2000)
    document_read_seconds: float = Field(60.0, gt=0, le=600)  # an upload read longer is refused
    photo_read_seconds: float = Field(30.0, ge=0, le=300)  # Tesseract's time for a photo's text; 0: photos not read
    photo_max_pixels: int = Field(12_000_000, ge=10_000, le=100_000_000)  # the largest photo size read
    reminder_check_seconds: float = Field(30.0, ge=0.2, le=3600)
    reminder_claim_seconds: float = Field(300.0, ge=1, le=86_400)  # a claim a killed process left expires
    default_timezone: str = "UTC"

    # --- LLM (used by the advisor issue) -----------------------------------------
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(30.0, gt=0, le=600)
    llm_temperature: float = Field(0.2, ge=0, le=2)
    llm_max_tokens: int = Field(600, ge=16, le=32000)
    llm_max_retries: int = Field(2, ge=0, le=10)
    answer_max_chars: int = Field(3500, ge=200, le=100_000)
    prompts_dir: Path = Path("prompts")

    # --- Conversation ---------------------------------------------------------------
    memory_tokens: int = Field(1500, ge=0, le=100_000)
    question_max_tokens: int = Field(300, ge=10, le=10_000)

    # --- Storage -----------------------------------------------------------------------
    database_url: str | None = None
    retention_days: int | None = Field(None, ge=1, le=36500)
    review_password: SecretStr | None = None
    # IANA zone the browser review shows times in (to the minute); unset: the first admin's
    # stored time zone (ADMIN_USER_IDS, asked by reminders), else UTC
    review_time_zone: str | None = None
    review_url: str | None = None  # where admins open `python -m bot review`; /review sends login links to it

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("admin_user_ids", "allowed_user_ids", "consultant_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Comma- or space-separated Telegram user ids, e.g. ADMIN_USER_IDS=123,456."""
        if isinstance(value, str):
            parts = [p for p in value.replace(",", " ").split() if p]
            bad = [p for p in parts if not p.lstrip("-").isdigit()]
            if bad:
                raise ValueError(f"must be numeric Telegram user ids separated by commas (not {', '.join(bad)})")
            return [int(p) for p in parts]
        return value

    @field_validator("telegram_api_base_url", "telegram_webhook_url", "stt_base_url", "review_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("digest_time")
    @classmethod
    def _check_digest_time(cls, value: str) -> str:
        if value.lower() == "off":
            return "off"
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a time of day HH:MM in UTC (e.g. 08:00), or off")
        return value

    @field_validator("digest_suggestions_weekday")
    @classmethod
    def _check_suggestions_weekday(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in (*WEEKDAYS, "daily", "off"):
            raise ValueError("must be a day of the week (monday … sunday), daily, or off")
        return value

    @field_validator("default_timezone", "review_time_zone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone name, e.g. UTC, Europe/Berlin, Africa/Nairobi") from None
        return value

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8000")
        return value

    @model_validator(mode="after")
    def _check_webhook(self) -> Settings:
        if self.telegram_webhook_url and self.telegram_webhook_secret is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_WEBHOOK_URL is set "
                "(Telegram sends it with every update, so strangers cannot post fake ones)"
            )
        return self

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"CHUNK_OVERLAP ({self.chunk_overlap}) must be smaller than CHUNK_SIZE ({self.chunk_size})"
            )
        return self

    @property
    def index_path(self) -> Path:
        """Where the local Chroma index lives (ignored when CHROMA_URL is set)."""
        return self.index_dir if self.index_dir is not None else self.data_dir / "index"

    @property
    def database(self) -> str:
        """DATABASE_URL, or a SQLite file in the data dir."""
        return self.database_url or default_database_url(self.data_dir)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)


def default_database_url(data_dir: Path) -> str:
    """The transcript database when DATABASE_URL is not set: SQLite in the data dir."""
    return f"sqlite+aiosqlite:///{data_dir / 'transcripts.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one readable `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per bad setting: its environment name, the value and what is allowed."""
    lines = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        message = error["msg"].removeprefix("Value error, ")
        if loc:
            name = str(loc[0]).upper()
            value = error.get("input")
            lines.append(f"Invalid setting {name}={value!r}: {message}")
        else:
            lines.append(f"Invalid settings: {message}")
    return "\n".join(lines)
