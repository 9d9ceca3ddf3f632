"""Settings: defaults, overrides, and bad values reported in one line naming the setting."""

from __future__ import annotations

import pytest

from bot.config import SettingsError, load_settings
from tests.helpers import run_cli


def test_defaults_and_derived_paths(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    assert settings.index_path == tmp_path / "index"
    assert settings.chunk_overlap < settings.chunk_size
    assert settings.telegram_bot_token is None and settings.llm_model is None


def test_environment_and_env_file_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TOP_K=7\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("TOP_K", "9")
    from bot.config import Settings

    monkeypatch.setitem(Settings.model_config, "env_file", ".env")
    settings = load_settings()
    assert settings.top_k == 9  # the environment wins over .env
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CHUNK_SIZE": "huge"}, "Invalid setting CHUNK_SIZE='huge': Input should be a valid integer"),
        ({"TOP_K": "0"}, "Invalid setting TOP_K='0': Input should be greater than or equal to 1"),
        (
            {"LOG_LEVEL": "loud"},
            "Invalid setting LOG_LEVEL='LOUD': Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        ),
        ({"CHROMA_URL": "localhost:8000"}, "Invalid setting CHROMA_URL='localhost:8000': must start with http://"),
        ({"CHUNK_SIZE": "100", "CHUNK_OVERLAP": "100"}, "CHUNK_OVERLAP (100) must be smaller than CHUNK_SIZE (100)"),
        ({"REVIEW_TIME_ZONE": "Berlin"}, "Invalid setting REVIEW_TIME_ZONE='Berlin': must be an IANA time zone name"),
        ({"CONSULTANT_USER_IDS": "55,anna"}, "CONSULTANT_USER_IDS='55,anna': must be numeric Telegram user ids"),
    ],
)
def test_bad_values_name_the_setting(monkeypatch, env, expected):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert expected in str(err.value)


def test_consultant_user_ids_are_read_like_admin_user_ids(monkeypatch):
    monkeypatch.setenv("CONSULTANT_USER_IDS", "55, 56")
    assert load_settings().consultant_user_ids == [55, 56]


def test_cli_reports_a_bad_setting_in_one_line_without_traceback():
    result = run_cli("ask", "hello", env={"MIN_SCORE": "2"})
    assert result.returncode == 2
    assert result.stderr.strip() == "error: Invalid setting MIN_SCORE='2': Input should be less than or equal to 1"
    assert "Traceback" not in result.stderr


def test_env_example_documents_every_setting():
    from bot.config import Settings
    from tests.helpers import ROOT

    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    missing = [name.upper() for name in Settings.model_fields if f"{name.upper()}=" not in example]
    assert not missing, f".env.example does not document {missing}"
