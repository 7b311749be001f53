"""What the unit tests share: the environment make exports to pyrlab's commands."""

from __future__ import annotations

import pytest

from harness.makerun import exported_settings


@pytest.fixture
def made_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment as make gives it to a command: every setting at its default."""
    for name, value in exported_settings().items():
        monkeypatch.setenv(name, value)
