"""Matched random baskets, as ``basket sweep`` and ``basket run --universe`` draw them: their
settings (:class:`SweepOptions`), the universe read once (:class:`UniverseView`,
:func:`read_universe`) and aligned to a theme's sessions and currency (:func:`universe_on`),
the strata a theme's stocks are matched on, the draws weighted as the theme and simulated by
the fast kernel (:class:`MatchedDraws`, :func:`matched_draws`), and their check against
vectorbt (:func:`verify_draws`, :data:`VERIFY_TOLERANCE`).

May use the stages below the pipeline; no other room of the pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.config.baskets import Basket
from engine.data.prices import PriceSet
from engine.errors import OptionError
from engine.market.panel import LOOKBACK, Panel
from engine.portfolio.simulation import INITIAL_CASH, BacktestResult, run_backtest
from engine.symbols import Listing

#: Largest difference allowed between the kernel and vectorbt on a verified basket.
VERIFY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class SweepOptions:
    """How to draw and rank: ``n_random`` baskets per theme, matched on the market mix and
    ``match`` (:data:`engine.analysis.null.MATCHES`), drawn with ``seed``, the theme's own
    stocks excluded unless ``include_theme``; ``verify`` random baskets per theme and grid
    point are checked against vectorbt; ``grid`` the points of ``--grid``."""

    n_random: int = 10_000
    match: tuple[str, ...] = ()
    seed: int = 0
    include_theme: bool = False
    verify: int = 3
    grid: tuple[dict[str, object], ...] = ({},)

    @property
    def matched_on(self) -> list[str]:
        return ["market", *self.match]


def _universe_meta(universe, symbols: Sequence[str]) -> pd.DataFrame:
    """Calendar and currency of every universe symbol as the engine reads any symbol (from
    its suffix, so a US stock is on XNAS like a basket's), and its market, industry and board
    from the symbols table (the market from the suffix where the table does not say)."""
    from engine.data.universe import market_of
    from engine.symbols import listing_of

    table = universe.symbols_table().reindex(list(symbols)).fillna("")
    listings = [listing_of(s) for s in symbols]
    by_suffix = [market_of(s) for s in symbols]
    return pd.DataFrame(
        {
            "calendar": [x.calendar for x in listings],
            "currency": [x.currency for x in listings],
            "market": table["market"].where(table["market"] != "", by_suffix).to_numpy(),
            "industry": table["industry"].to_numpy(),
            "board": table["board"].to_numpy(),
        },
        index=pd.Index(list(symbols), name="symbol"),
    )


def _universe_listings(meta: pd.DataFrame) -> dict[str, Listing]:
    return {
        s: Listing(c, k)
        for s, c, k in zip(meta.index, meta["calendar"], meta["currency"], strict=True)
    }


def _strata(
    basket: Basket, view: UniverseView, match: Sequence[str], quintiles: pd.Series | None
) -> list[tuple]:
    """Each constituent's stratum: its market and the matched characteristics."""
    meta = view.meta
    strata = []
    for symbol in basket.symbols:
        key: list[object] = [view.market(symbol)]
        for what in match:
            if what == "listed":
                continue
            if what == "liquidity":
                value = quintiles.get(symbol, 0) if quintiles is not None else 0
                if not value:
                    raise OptionError(
                        "--match liquidity",
                        f"{basket.name}: {symbol} has no traded value in the universe over the "
                        "60 sessions before the start",
                        "the universe must hold the theme's stocks with their volume",
                    )
                key.append(f"liquidity Q{value}")
                continue
            if symbol not in meta.index:
                raise OptionError(
                    f"--match {what}",
                    f"{basket.name}: {symbol} is not in the universe",
                    f"do not match on {what}, or add {symbol} to the universe",
                )
            value = meta.at[symbol, what]
            # Boards exist for A-shares only: elsewhere the stock matches its market's others.
            if not value and what != "board":
                raise OptionError(
                    f"--match {what}",
                    f"{basket.name}: {symbol} has no {what} in the universe's symbols table",
                    f"add its {what} to the symbols table, or do not match on {what}",
                )
            key.append(value)
        strata.append(tuple(key))
    return strata


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator for ``seed`` and the labels ``parts`` (a theme, a period): the same on any
    machine (CRC-32 of the labels, not Python's salted hash)."""
    import zlib

    return np.random.default_rng([seed, *(zlib.crc32(p.encode("utf-8")) for p in parts)])


def verify_draws(aligned, draws: np.ndarray, weights: np.ndarray, trade: np.ndarray,
                 fees: float, schedule: str, listings: dict[str, Listing], panel: Panel,
                 theme: Basket, count: int) -> float:
    """The largest difference between the values the kernel gave the first ``count`` random
    baskets (traded on ``trade``) and vectorbt's for them (the engine's :func:`run_backtest`
    with the theme's ``schedule``, each exchange open when it is for the theme's ``panel``);
    infinite if vectorbt would trade them on other days."""
    from engine.config.baskets import Constituent
    from engine.portfolio.kernel import basket_values

    chosen = draws[:count]
    if not len(chosen):
        return 0.0
    if weights.ndim == 3:
        return _verify_targets(aligned.prices, chosen, weights[:count], trade, fees)
    symbols = list(dict.fromkeys(aligned.symbols[c] for c in chosen.ravel()))
    columns = [aligned.symbols.index(s) for s in symbols]
    index = aligned.sessions
    frame = pd.DataFrame(aligned.prices[:, columns], index=index, columns=symbols)
    open_by_calendar = {panel.listings[s].calendar: panel.open[s] for s in theme.symbols}
    is_open = pd.DataFrame(
        {s: open_by_calendar[listings[s].calendar].to_numpy() for s in symbols}, index=index
    )
    verified = Panel(frame, frame, is_open, {s: listings[s] for s in symbols}, panel.currency,
                     closures=panel.closures)
    baskets = [
        Basket(f"random {b}", tuple(Constituent(aligned.symbols[c], float(w))
                                    for c, w in zip(row, weights, strict=True)),
               weighting="custom")
        for b, row in enumerate(chosen)
    ]
    reference = run_backtest(verified, baskets, PriceSet({}, "universe"), fees=fees,
                             rebalance=schedule)
    values = basket_values(aligned.prices, chosen, weights, trade, fees)
    worst = 0.0
    for b, basket in enumerate(baskets):
        days = index.isin([reference.bought[basket.name], *reference.rebalances[basket.name]])
        if not np.array_equal(days, trade):
            return math.inf
        difference = np.abs(values[b] - reference.equity[basket.name].to_numpy())
        worst = max(worst, float(difference.max()))
    return worst


def _verify_targets(prices: np.ndarray, chosen: np.ndarray, weights: np.ndarray,
                    trade: np.ndarray, fees: float) -> float:
    """The largest difference between the kernel's values of the baskets ``chosen`` with
    targets per trading session (``weights``: ``(1 or n, sessions, k)``) and vectorbt's
    ``from_orders`` with those targets on the ``trade`` sessions (the engine's simulation)."""
    from engine.portfolio.kernel import basket_values
    from engine.portfolio.orders import Orders, simulate

    n, k = chosen.shape
    close = prices[:, chosen.ravel()]
    size = np.full(close.shape, np.nan)
    per_basket = np.broadcast_to(weights, (n, *weights.shape[1:]))
    size[trade] = per_basket.transpose(1, 0, 2).reshape(int(trade.sum()), n * k)
    simulated, _ = simulate(Orders(close, size, np.full(n, k), INITIAL_CASH,
                                   order_args={"fees": fees}))
    values = basket_values(prices, chosen, weights, trade, fees)
    return float(np.abs(values - simulated.value.T).max())


def _theme_targets(theme: Basket, backtest: BacktestResult) -> pd.DataFrame:
    """The theme's targets on each of its trading sessions (constituents as columns); an error
    when it is traded like the market, or when it caps a rule's weights: the random baskets'
    kernel knows proportional fees only, and applies a rule without caps."""
    from engine.config.weights import LOOKBACK_WEIGHTINGS

    if theme.trades_like_the_market:
        raise OptionError(
            "sweep",
            f"basket '{theme.name}' is traded like the market (costs: market, commission or "
            "capital) and the random baskets' kernel knows proportional fees only",
            "sweep it without costs: market, commission and capital",
        )
    if theme.caps is not None and theme.weighting in LOOKBACK_WEIGHTINGS:
        raise OptionError(
            "sweep",
            f"basket '{theme.name}' caps its {theme.weighting} weights, and random baskets "
            "apply the rule without caps",
            "sweep it without caps, or with equal or custom weights",
        )
    return backtest.targets[theme.name].weights


def _random_targets(theme: Basket, targets: pd.DataFrame, draws: np.ndarray,
                    scores: np.ndarray | None) -> tuple[Callable[[slice], np.ndarray], bool,
                                                        str | None]:
    """How the random baskets are weighted (:mod:`engine.analysis.null`, Weights): a function
    giving the kernel's targets of the baskets ``draws[rows]`` (``(k,)`` when the theme's
    never change, else ``(1 or n, sessions, k)``), whether they are shared by every basket,
    and the note saying how they were weighted when not as the theme."""
    from engine.analysis.null import equal_over_members, rule_weights

    theme_targets = targets.to_numpy(dtype=float)
    if scores is not None:
        members = theme_targets > 0
        return (lambda rows: rule_weights(members, draws[rows], scores)), False, None
    note = None
    if theme.weighting not in ("equal", "custom"):
        theme_targets = equal_over_members(theme_targets)
        note = (f"random baskets of {theme.name}: equal weights over the members ({theme.weighting}"
                " weights come from data on the theme's own stocks)")
    shared = theme_targets[0] if (theme_targets == theme_targets[0]).all() else theme_targets[None]
    return (lambda rows: shared), True, note


#: Random baskets weighted at a time when each has its own targets (bounds their memory).
WEIGHED_AT_ONCE = 20_000


def _rule_scores(theme: Basket, matrix, meta: pd.DataFrame, panel: Panel,
                 trading: Sequence[pd.Timestamp],
                 factors: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Every universe stock's raw weight under the theme's rule on its trading sessions
    (:func:`engine.analysis.null.rule_scores`), or None for a theme without a rule that any
    stock has."""
    from engine.analysis.null import rule_scores
    from engine.config.weights import LOOKBACK_WEIGHTINGS

    if theme.weighting not in LOOKBACK_WEIGHTINGS:
        return None
    rows = panel.sessions.get_indexer(trading)
    to_report = np.full((len(trading), len(matrix.symbols)), np.nan)
    for currency, factor in factors.items():
        to_report[:, (meta["currency"] == currency).to_numpy()] = np.asarray(factor)[rows, None]
    return rule_scores(theme.weighting, matrix.dates, matrix.closes, matrix.volume, trading,
                       theme.lookback, to_report)


def _liquidity(matrix, meta: pd.DataFrame, start: pd.Timestamp, theme: Basket,
               candidates: np.ndarray) -> pd.Series:
    """Each universe stock's liquidity quintile within its market (0: unknown), from the
    median traded value over the :data:`engine.analysis.null.LIQUIDITY_SESSIONS` sessions of
    its exchange before ``start``; an error where the theme's markets have no volume."""
    from engine.analysis.null import LIQUIDITY_SESSIONS, liquidity_quintiles, median_traded_value
    from engine.calendars import sessions as calendar_sessions

    traded = np.full(len(matrix.symbols), np.nan)
    for calendar in meta["calendar"].unique():
        columns = np.flatnonzero((meta["calendar"] == calendar).to_numpy())
        own = calendar_sessions(calendar, start - pd.Timedelta(days=200), start)
        own = own[own < start][-LIQUIDITY_SESSIONS:]
        rows = matrix.dates.isin(own)
        traded[columns] = median_traded_value(
            matrix.closes[:, columns], matrix.volume[:, columns], rows
        )
    markets = meta["market"].to_numpy()
    for market in {meta.at[s, "market"] for s in theme.symbols if s in meta.index}:
        if not np.isfinite(traded[markets == market]).any():
            raise OptionError(
                "--match liquidity",
                f"the universe has no volume for market {market} (needed by {theme.name})",
                "match on liquidity only themes of markets with volume data",
            )
    member = meta.index.isin(theme.symbols)
    quintiles = liquidity_quintiles(traded, markets, candidates | member)
    return pd.Series(quintiles, index=meta.index)


@dataclass(frozen=True)
class UniverseView:
    """A universe read once for a run or a sweep: its ``matrix`` over the dates needed, each
    symbol's calendar, currency, market, industry and board (``meta``, :func:`_universe_meta`),
    their ``listings``, the column of each symbol and the first row with a bar of each."""

    matrix: object
    meta: pd.DataFrame
    listings: dict[str, Listing]
    column_of: dict[str, int]
    first_bar: np.ndarray

    def market(self, symbol: str) -> str:
        """A symbol's market (A, HK, US): the symbols table's, else from its suffix."""
        from engine.data.universe import market_of

        return self.meta.at[symbol, "market"] if symbol in self.meta.index else market_of(symbol)


def read_universe(universe, first: pd.Timestamp, last: pd.Timestamp) -> UniverseView:
    """The :class:`UniverseView` of ``universe`` (a :class:`engine.data.universe.UniverseSource`)
    from ``first`` to ``last``."""
    matrix = universe.matrix(first, last)
    meta = _universe_meta(universe, matrix.symbols)
    return UniverseView(
        matrix, meta, _universe_listings(meta), {s: i for i, s in enumerate(matrix.symbols)},
        np.argmax(np.isfinite(matrix.closes), axis=0),
    )


def theme_factors(panel: Panel, theme: Basket) -> dict[str, np.ndarray]:
    """Per currency of the theme's constituents, the factor turning its local prices into the
    panel's currency on each session (as the theme's own prices were converted)."""
    factors: dict[str, np.ndarray] = {}
    for symbol in theme.symbols:
        ratio = (panel.prices[symbol] / panel.local[symbol]).to_numpy()
        factors.setdefault(panel.listings[symbol].currency, ratio)
    return factors


def universe_on(view: UniverseView, panel: Panel, theme: Basket):
    """The universe's closes on the sessions of ``panel``, in its currency, as the theme's
    constituents are (:func:`engine.market.universe.align_universe`, with the FX factors of the
    theme's currencies, :func:`theme_factors`: stocks of other currencies are not eligible)."""
    from engine.market.universe import align_universe

    return align_universe(
        view.matrix, view.meta["calendar"].to_numpy(), view.meta["currency"].to_numpy(),
        panel.sessions, theme_factors(panel, theme), panel.closures,
    )


@dataclass(frozen=True)
class MatchedDraws:
    """A theme's random baskets: ``weigh(rows)`` their targets for the kernel (``(k,)`` when
    the theme's never change, else ``(1 or n, sessions, k)``, :func:`_random_targets`), the
    weights at the purchase the event study uses (``at_purchase``), the theme's trading
    sessions (``trade``, bool per session of the panel), the universe columns they were drawn
    from (``pool``, bool), the ``draws`` (``n_random x k`` columns), their
    :data:`engine.portfolio.kernel.STATISTICS` on the theme's own sessions, and the note saying
    how they were weighted when not as the theme (else None)."""

    weigh: Callable[[slice], np.ndarray]
    at_purchase: np.ndarray
    trade: np.ndarray
    pool: np.ndarray
    draws: np.ndarray
    statistics: np.ndarray
    note: str | None = None


def matched_draws(
    view: UniverseView, aligned, panel: Panel, days: pd.DatetimeIndex, theme: Basket,
    backtest: BacktestResult, fees: float, options: SweepOptions, *,
    listed_from: pd.Timestamp | None = None, progress=None,
) -> MatchedDraws:
    """``options.n_random`` random baskets matched to ``theme`` (its market mix and
    ``options.match``; :func:`engine.analysis.null.draw_baskets` with a generator of the seed,
    the theme's name and its period ``days``), weighted as the theme on each of its trading
    sessions (its rule applied to the random stocks, :func:`_rule_scores`; baskets with their
    own targets :data:`WEIGHED_AT_ONCE` at a time), simulated by the kernel with ``fees`` on its
    own sessions ``days`` of ``aligned`` (:func:`universe_on`); ``progress(done)`` as they are.
    An :class:`OptionError` when the theme's rules are not the kernel's or a stratum has too few
    stocks."""
    from engine.analysis.metrics import PERIODS_PER_YEAR
    from engine.analysis.null import draw_baskets
    from engine.portfolio.kernel import basket_statistics

    targets = _theme_targets(theme, backtest)
    trade = panel.sessions.isin(targets.index)
    own_rows = panel.sessions.get_indexer(days)
    candidates = aligned.eligible.copy()
    if "listed" in options.match:
        since = listed_from or days[0] - LOOKBACK
        candidates &= view.matrix.dates[view.first_bar] <= since
    quintiles = (
        _liquidity(view.matrix, view.meta, days[0], theme, candidates)
        if "liquidity" in options.match else None
    )
    strata = _strata(theme, view, options.match, quintiles)
    scores = _rule_scores(theme, view.matrix, view.meta, panel, list(targets.index),
                          theme_factors(panel, theme))
    if scores is not None:
        # A stock the rule cannot weigh on some session is not drawn.
        candidates &= np.isfinite(scores).all(axis=0)
    pool = candidates.copy()
    if not options.include_theme:
        pool[[view.column_of[s] for s in theme.symbols if s in view.column_of]] = False
    keys = _stratum_keys(view.meta, options.match, quintiles)
    pools = {stratum: np.flatnonzero(pool & (keys == _key_text(stratum)))
             for stratum in dict.fromkeys(strata)}
    period = f"{days[0].date()}..{days[-1].date()}"
    draws = draw_baskets(strata, pools, options.n_random, _rng(options.seed, theme.name, period))
    weigh, shared, note = _random_targets(theme, targets, draws, scores)
    step = options.n_random if shared else WEIGHED_AT_ONCE
    parts, at_purchase = [], []
    for first_draw in range(0, options.n_random, step):
        block = slice(first_draw, first_draw + step)
        weights = weigh(block)

        def advance(count: int, before: int = first_draw) -> None:
            if progress is not None:
                progress(before + count)

        # The statistics use the basket's own sessions, as its summary does.
        parts.append(basket_statistics(
            aligned.prices[own_rows], draws[block], weights, trade[own_rows], fees,
            periods_per_year=PERIODS_PER_YEAR, progress=advance,
        ))
        # The event study weighs a basket by its weights at the purchase.
        at_purchase.append(weights if weights.ndim == 1 else weights[:, 0])
    purchase = at_purchase[0] if shared else np.concatenate(at_purchase)
    if purchase.ndim == 2 and len(purchase) == 1:
        purchase = purchase[0]
    return MatchedDraws(weigh, purchase, trade, pool, draws, np.concatenate(parts), note)


def _key_text(stratum: tuple) -> str:
    return " / ".join(str(p) for p in stratum)


def _stratum_keys(
    meta: pd.DataFrame, match: Sequence[str], quintiles: pd.Series | None
) -> np.ndarray:
    """Every universe stock's stratum as text (market, then the matched characteristics)."""
    keys = meta["market"].astype(str)
    for what in match:
        if what == "listed":
            continue
        if what == "liquidity":
            assert quintiles is not None
            keys = keys + " / liquidity Q" + quintiles.astype(str)
        else:
            keys = keys + " / " + meta[what].astype(str)
    return keys.to_numpy()
