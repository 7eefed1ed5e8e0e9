"""Settings from HEARTH_* variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import DEFAULT_RETRY_SCHEDULE, Settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./hearth.db"
    assert settings.redis_url is None and settings.admin_token is None
    assert (settings.host, settings.port, settings.max_body_bytes) == ("127.0.0.1", 8000, 1048576)
    assert settings.webhook_retry_schedule == list(DEFAULT_RETRY_SCHEDULE)
    assert settings.is_sqlite


def test_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEARTH_OUTBOUND_ALLOWED_HOSTS", "127.0.0.1, 10.0.0.0/8 ,hooks.internal")
    monkeypatch.setenv("HEARTH_WEBHOOK_RETRY_SCHEDULE", "1,2.5,60")
    settings = Settings(_env_file=None)
    assert settings.outbound_allowed_hosts == ["127.0.0.1", "10.0.0.0/8", "hooks.internal"]
    assert settings.webhook_retry_schedule == [1, 2.5, 60]


def test_env_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("HEARTH_PORT=9001\nHEARTH_LOG_FORMAT=json\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.port == 9001 and settings.resolved_log_format == "json"


@pytest.mark.parametrize(
    "values",
    [
        {"webhook_retry_schedule": [5, 0]},
        {"lease_seconds": 10, "webhook_timeout_seconds": 15},
        {"port": 70000},
        {"log_format": "xml"},
    ],
)
def test_invalid_values_are_refused(values: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **values)


def test_the_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [
        f"HEARTH_{name.upper()}"
        for name in Settings.model_fields
        if f"`HEARTH_{name.upper()}`" not in readme
    ]
    assert missing == [], f"add these to the README's configuration table: {missing}"
