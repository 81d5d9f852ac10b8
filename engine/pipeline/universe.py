"""What a universe adds to ``basket run --universe``: each basket's equal-weight pool of its
markets' universe stocks and its ranking among matched random baskets
(:func:`universe_figures`).

May use the stages below the pipeline and :mod:`engine.pipeline.draws`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from engine.analysis.null import Ranking
from engine.config.baskets import Basket
from engine.errors import OptionError
from engine.market.panel import LOOKBACK, Panel
from engine.pipeline import draws
from engine.portfolio.simulation import INITIAL_CASH, BacktestResult
from engine.portfolio.weighting import weighting_history


def universe_figures(
    universe,
    panel: Panel,
    baskets: Sequence[Basket],
    backtest: BacktestResult,
    sessions: Mapping[str, pd.DatetimeIndex],
    fees: float,
    null: draws.SweepOptions,
) -> tuple[dict[str, pd.Series], dict[str, Ranking], dict[str, np.ndarray], list[str]]:
    """What a universe adds to a run, per basket, on its own sessions (``sessions``,
    :func:`engine.pipeline.runs.basket_sessions`):

    * the value of its **equal-weight pool**: every eligible universe stock of its markets
      (its own stocks included), weighted ``w_m / N_m`` by market
      (:func:`engine.market.benchmarks.pool_weights` of its market mix at the purchase),
      simulated by the kernel from the same starting cash with the basket's trading sessions
      (purchase and rebalances) and proportional ``fees``, in the report currency;
    * its total return's **ranking** among ``null.n_random`` random baskets matched on its
      market mix (as ``basket sweep`` draws them,
      :func:`engine.pipeline.draws.matched_draws`; none when ``n_random`` is 0),
      ``null.verify`` of them checked against vectorbt, and the random baskets' total
      returns it is ranked among;

    and notes for the baskets that get neither (a market without universe stocks, rules the
    kernel does not know) and on how the random baskets were weighted when not as the basket.
    ``baskets`` carry their purchase weights."""
    from engine.analysis.null import rank_against
    from engine.errors import EngineFailure
    from engine.market.benchmarks import pool_weights, weights_by
    from engine.portfolio.kernel import basket_values

    # The lookback rules (inverse_vol, liquidity) read bars before the start, as the run did.
    history = max(LOOKBACK, weighting_history(baskets))
    view = draws.read_universe(universe, panel.sessions[0] - history, panel.sessions[-1])
    markets = view.meta["market"].to_numpy()
    pools, ranks, nulls, notes = {}, {}, {}, []
    for basket in baskets:
        days = sessions[basket.name]
        own_rows = panel.sessions.get_indexer(days)
        aligned = draws.universe_on(view, panel, basket)
        trade = panel.sessions.isin(backtest.targets[basket.name].weights.index)
        columns, weights, empty = pool_weights(markets, aligned.eligible,
                                               weights_by(basket, view.market))
        if empty:
            notes.append(f"{basket.name}: no equal-weight pool (the universe has no stock of "
                         f"market {', '.join(empty)} over the period)")
        else:
            values = basket_values(aligned.prices[own_rows], columns[None, :], weights,
                                   trade[own_rows], fees)[0]
            pools[basket.name] = pd.Series(values, index=days, name="pool")
        if not null.n_random:
            continue
        try:
            drawn = draws.matched_draws(view, aligned, panel, days, basket, backtest, fees, null)
        except OptionError as error:
            why = error.message.removeprefix(f"{error.option}: ")
            notes.append(f"{basket.name}: no matched random baskets ({why})")
            continue
        if drawn.note:
            notes.append(drawn.note)
        schedule = backtest.schedules[basket.name]
        worst = draws.verify_draws(aligned, drawn.draws, drawn.weigh(slice(0, null.verify)),
                                   drawn.trade, fees, schedule, view.listings, panel, basket,
                                   null.verify)
        if worst > draws.VERIFY_TOLERANCE:
            raise EngineFailure(
                f"the fast kernel and vectorbt differ by {worst:.3g} on a random basket of "
                f"{basket.name}", "this is a bug in basket; rerun with --random 0",
            )
        total = float(backtest.equity[basket.name].loc[days].iloc[-1] / INITIAL_CASH - 1.0)
        nulls[basket.name] = drawn.statistics[:, 0].copy()
        ranks[basket.name] = rank_against(total, nulls[basket.name])
    return pools, ranks, nulls, notes
