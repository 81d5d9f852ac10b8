"""Exchange sessions cached on disk (engine.calendars): the same days as exchange_calendars,
rebuilt when its version changes, when the file is old or corrupt, and no harm when the cache
folder cannot be written."""

from __future__ import annotations

import os
import time

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

from engine import calendars
from engine.errors import OptionError

load = calendars.all_sessions.__wrapped__  # past the in-memory cache: the disk every time


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(calendars.CACHE_ENV, str(tmp_path / "calendars"))
    return tmp_path / "calendars"


def built_by_exchange_calendars(name: str) -> pd.DatetimeIndex:
    return xc.get_calendar(name, start="2000-01-01").sessions


def no_build(name):
    raise AssertionError(f"{name} was built again instead of read from the cache")


@pytest.mark.parametrize("name", ["XSHG", "XHKG", "XNAS", "XNYS"])
def test_cached_sessions_are_exchange_calendars_sessions(folder, monkeypatch, name):
    first = load(name)
    assert (folder / f"{name}-{xc.__version__}.npy").is_file()
    monkeypatch.setattr(calendars, "_built_days", no_build)
    again = load(name)
    expected = built_by_exchange_calendars(name)
    for days in (first, again):
        assert days.name == "date" and days.dtype == "datetime64[ns]" and days.tz is None
        np.testing.assert_array_equal(days.to_numpy(), expected.to_numpy())


def test_a_new_exchange_calendars_version_rebuilds(folder, monkeypatch):
    load("XHKG")
    monkeypatch.setattr(calendars, "_version", lambda: "99.0")
    built = []
    real = calendars._built_days
    monkeypatch.setattr(calendars, "_built_days", lambda name: built.append(name) or real(name))
    load("XHKG")
    assert built == ["XHKG"]
    files = sorted(p.name for p in folder.iterdir())
    assert files == [f"XHKG-{xc.__version__}.npy", "XHKG-99.0.npy"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not numpy at all",
        "truncated",
        "floats",
        "unsorted",
        "pickled objects",
    ],
)
def test_a_corrupt_file_is_rebuilt_never_a_crash(folder, content):
    good = load("XNAS")
    path = folder / f"XNAS-{xc.__version__}.npy"
    if content == "truncated":
        content = path.read_bytes()[:1000]
    elif content == "floats":
        np.save(path, np.arange(5.0))
        content = path.read_bytes()
    elif content == "unsorted":
        np.save(path, good.to_numpy()[::-1])
        content = path.read_bytes()
    elif content == "pickled objects":
        np.save(path, np.array([object()] * 3), allow_pickle=True)
        content = path.read_bytes()
    path.write_bytes(content)
    assert load("XNAS").equals(good)
    np.testing.assert_array_equal(np.load(path), good.to_numpy())  # and repaired on disk


def test_an_old_file_is_rebuilt(folder, monkeypatch):
    load("XSHG")
    path = folder / f"XSHG-{xc.__version__}.npy"
    old = time.time() - calendars.MAX_AGE_SECONDS - 60
    os.utime(path, (old, old))
    load("XSHG")
    assert time.time() - path.stat().st_mtime < 60


def test_an_unwritable_cache_folder_means_no_cache_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(calendars.CACHE_ENV, str(blocker / "calendars"))
    days = load("XHKG")
    np.testing.assert_array_equal(days.to_numpy(), built_by_exchange_calendars("XHKG").to_numpy())
    assert blocker.read_text() == "not a folder"


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(folder, monkeypatch):
    def refuse(source, target):
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr(calendars.os, "replace", refuse)
    assert len(load("XNAS")) > 6000
    assert list(folder.iterdir()) == []


def test_an_unknown_calendar_is_an_option_error_and_writes_nothing(folder):
    with pytest.raises(OptionError, match="unknown exchange calendar 'XXXX'"):
        load("XXXX")
    assert not folder.exists() or list(folder.iterdir()) == []


def test_the_default_folder_is_in_the_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv(calendars.CACHE_ENV, raising=False)
    expected = os.path.join(platformdirs.user_cache_dir("basket"), "calendars")
    assert str(calendars.cache_folder()) == expected


def test_a_period_may_start_on_the_first_day_the_calendars_cover_and_not_before():
    """The calendars are built from 2000-01-01: a period starting then begins at the first
    session (2000-01-03 on NASDAQ); one starting a day earlier is refused, never moved."""
    import datetime as dt

    assert calendars.before_calendars(dt.date(2000, 1, 1)) is None
    assert calendars.all_sessions("XNAS")[0] == pd.Timestamp("2000-01-03")
    assert calendars.before_calendars(dt.date(1999, 12, 31)) == (
        "1999-12-31 is before 2000-01-01, the earliest date the exchange calendars cover")
