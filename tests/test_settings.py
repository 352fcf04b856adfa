"""The typed settings object (syncapp/settings.py) is config.SPEC, read-only."""

from __future__ import annotations

import dataclasses

import pytest

from syncapp import create_app
from syncapp.config import SPEC, load_settings
from syncapp.settings import SECTIONS, build_settings, settings
from tests.conftest import make_settings


def test_every_declared_key_is_an_attribute_and_nothing_else():
    assert list(SECTIONS) == list(SPEC)
    for section, cls in SECTIONS.items():
        assert [field.name for field in dataclasses.fields(cls)] == list(SPEC[section])


def test_values_are_the_loaded_ones_and_cannot_change(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    values = load_settings(
        {"sync": {"allowed_roots": ["/srv/{user_id}"], "dispatch_interval": 2}}, environ={}
    )
    typed = build_settings(values)
    for section, keys in SPEC.items():
        for key in keys:
            expected = values[section][key]
            expected = tuple(expected) if isinstance(expected, list) else expected
            assert getattr(getattr(typed, section), key) == expected
    assert typed.sync.allowed_roots == ("/srv/{user_id}",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.sync.dispatch_interval = 3


def test_the_app_builds_it_once(tmp_path):
    app = create_app(make_settings(tmp_path, server={"threads": 32}))
    assert settings(app).server.threads == 32
    with app.app_context():
        assert settings() is settings(app)
