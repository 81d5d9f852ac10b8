"""What the runner asks of a price source: the dates a run and an event study need."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
from conftest import PROJECT

from engine.config.baskets import load_basket, load_study
from engine.data.csvfolder import CsvFolderSource
from engine.pipeline import event_options, resolve_study, run_events


class RecordingSource(CsvFolderSource):
    """The shared CSV folder, remembering the period each fetch asked for."""

    def __init__(self, folder):
        super().__init__(folder)
        self.asked = []

    def fetch(self, symbols, start=None, end=None):
        self.asked.append((start, end))
        return super().fetch(symbols, start, end)


def test_an_event_study_asks_for_its_estimation_and_event_windows(shared_prices):
    """An event after the study's period still gets its windows' prices from a downloading
    source: the fetch runs from the estimation window to the last window day."""
    study = resolve_study(load_study(PROJECT / "baskets" / "studies" / "deepseek.yaml"))
    study = dataclasses.replace(study, end=dt.date(2025, 2, 28))
    options = event_options(study, events=[dt.date(2025, 6, 2)], windows=[(0, 20)])
    source = RecordingSource(shared_prices)
    run_events([load_basket(PROJECT / "baskets" / "us_ai_leaders.yaml")], study, source, options)
    ((start, end),) = source.asked
    # Day -250 and day +20 around 2025-06-02, counted on Nvidia's real trading days.
    nvda = pd.read_csv(shared_prices / "NVDA.csv")["date"].tolist()
    day0 = nvda.index("2025-06-02")
    assert (start, end) == (pd.Timestamp(nvda[day0 - 250]), pd.Timestamp(nvda[day0 + 20]))
