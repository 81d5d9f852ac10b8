"""basket: thematic basket backtests and event studies.

Data flows one way: ``baskets`` (YAML files) -> ``data`` (prices per symbol) -> ``market``
(calendars, FX, one aligned panel) -> ``backtest`` / ``events`` -> ``metrics`` -> ``results``.
Importing this package is cheap: heavy libraries (pandas, vectorbt) load with the modules that
need them.
"""

__version__ = "0.1.0"
