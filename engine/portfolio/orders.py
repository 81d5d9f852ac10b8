"""Orders of grouped, cash-sharing columns simulated by vectorbt's engine.

Two ways to the same numbers:

* :func:`simulate_compiled` calls vectorbt's compiled engine (``vectorbt_rust.portfolio``: one
  millisecond to import) with the arguments ``vbt.Portfolio.from_orders`` would prepare, and
  derives values and cash flows with the same compiled functions ``Portfolio.value``,
  ``asset_value`` and ``cash_flow`` call;
* :func:`simulate_portfolio` is that ``vbt.Portfolio.from_orders`` call itself (importing
  vectorbt costs more than a second), the reference the compiled path is tested against.

:func:`simulate` takes the compiled path and falls back to the reference, with a note, where
``vectorbt-rust`` is not installed.

Every ``from_orders`` order argument can be passed through ``order_args`` (fees, fixed fees,
slippage, minimum size, size granularity, ...): a scalar, one value per column (shape
``(n_columns,)``) or one per element (shape ``(n_sessions, n_columns)``), as vectorbt's flexible
indexing reads them.  Those not given take vectorbt 1.2's defaults (:data:`ORDER_DEFAULTS`,
checked against ``vectorbt._settings`` by the tests).

The preparation follows vectorbt 1.2.0's ``Portfolio.from_orders``
(``vectorbt/portfolio/base.py``) and ``simulate_from_orders`` (``vectorbt/portfolio/dispatch.py``):
call sequence built per group and sorted by the engine (``call_seq="auto"``: sells before buys),
``price=np.inf`` (the close), ``max_orders = n_sessions * n_columns``, no logs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

#: vectorbt's ``SizeType`` codes (``vectorbt.portfolio.enums``).
SIZE_TYPES = {
    "amount": 0,
    "value": 1,
    "percent": 2,
    "targetamount": 3,
    "targetvalue": 4,
    "targetpercent": 5,
}

#: ``from_orders``' order arguments in the order the engine takes them, with vectorbt 1.2's
#: defaults (``settings["portfolio"]``; ``direction`` 2 is ``Direction.Both``) and dtypes.
ORDER_DEFAULTS: dict[str, tuple[object, type]] = {
    "price": (np.inf, np.float64),
    "direction": (2, np.int64),
    "fees": (0.0, np.float64),
    "fixed_fees": (0.0, np.float64),
    "slippage": (0.0, np.float64),
    "min_size": (1e-8, np.float64),
    "max_size": (np.inf, np.float64),
    "size_granularity": (np.nan, np.float64),
    "reject_prob": (0.0, np.float64),
    "lock_cash": (False, np.bool_),
    "allow_partial": (True, np.bool_),
    "raise_reject": (False, np.bool_),
    "log": (False, np.bool_),
    "val_price": (np.inf, np.float64),
}



def _record_dtype(fields: str) -> np.dtype:
    """An aligned record dtype from ``"name:kind ..."`` (kinds ``i`` int64, ``f`` float64,
    ``b`` bool), as vectorbt declares its records."""
    kinds = {"i": np.int64, "f": np.float64, "b": np.bool_}
    return np.dtype(
        [(name, kinds[kind]) for name, kind in (f.split(":") for f in fields.split())], align=True
    )


#: vectorbt 1.2's ``order_dt`` and ``log_dt`` (``vectorbt/portfolio/enums.py``; the tests check
#: they are equal).
ORDER_RECORD = _record_dtype("id:i col:i idx:i size:f price:f fees:f side:i")
LOG_RECORD = _record_dtype(
    "id:i group:i col:i idx:i cash:f position:f debt:f free_cash:f val_price:f value:f "
    "req_size:f req_price:f req_size_type:i req_direction:i req_fees:f req_fixed_fees:f "
    "req_slippage:f req_min_size:f req_max_size:f req_size_granularity:f req_reject_prob:f "
    "req_lock_cash:b req_allow_partial:b req_raise_reject:b req_log:b new_cash:f "
    "new_position:f new_debt:f new_free_cash:f new_val_price:f new_value:f res_size:f "
    "res_price:f res_fees:f res_side:i res_status:i res_status_info:i order_id:i"
)
#: Where ``vectorbt_rust`` imports the dtypes of the records it builds from.
RECORD_MODULE = "vectorbt.portfolio.enums"

#: Said when the compiled engine is missing and the simulation goes through ``vbt.Portfolio``.
FALLBACK_NOTE = (
    "vectorbt's compiled engine (vectorbt-rust) is not installed: simulated through "
    "vbt.Portfolio (same numbers, slower start); pip install 'vectorbt[rust]'"
)


@dataclass(frozen=True)
class Orders:
    """What to simulate.

    ``close``: prices, shape ``(n_sessions, n_columns)``, also the order price.  ``size``: the
    order of each column per session in ``size_type`` units (NaN: no order).  ``group_lens``:
    the number of columns of each group, groups being consecutive columns sharing one cash
    balance of ``init_cash``.  ``order_args``: further ``from_orders`` order arguments (see the
    module's docstring).
    """

    close: np.ndarray
    size: np.ndarray
    group_lens: np.ndarray
    init_cash: float
    size_type: str = "targetpercent"
    order_args: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.order_args) - set(ORDER_DEFAULTS))
        if unknown:
            raise ValueError(f"not an order argument of from_orders: {', '.join(unknown)}")
        if self.size_type not in SIZE_TYPES:
            raise ValueError(f"size_type '{self.size_type}' is not one of {', '.join(SIZE_TYPES)}")
        if self.close.shape != self.size.shape or int(np.sum(self.group_lens)) != self.shape[1]:
            raise ValueError(
                f"close {self.close.shape}, size {self.size.shape} and groups of "
                f"{int(np.sum(self.group_lens))} columns do not match"
            )

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape


@dataclass(frozen=True)
class Simulated:
    """The simulation's outcome as arrays.

    ``records``: vectorbt's order records (fields ``id, col, idx, size, price, fees, side``).
    ``value``: each group's value per session, ``(n_sessions, n_groups)``.  ``asset_value`` and
    ``cash_flow``: per column, ``(n_sessions, n_columns)``; a column's cash flow counts what it
    paid (negative) and received, fees included.
    """

    records: np.ndarray
    value: np.ndarray
    asset_value: np.ndarray
    cash_flow: np.ndarray


def _compiled_engine():
    """``vectorbt_rust.portfolio`` (raises ImportError when vectorbt-rust is not installed)."""
    import vectorbt_rust.portfolio

    return vectorbt_rust.portfolio


@contextlib.contextmanager
def _record_dtypes() -> Iterator[None]:
    """Lend ``vectorbt_rust`` the record dtypes it imports from ``vectorbt.portfolio.enums``.

    The compiled engine asks Python to import ``vectorbt.portfolio.enums``, which imports the
    whole vectorbt package first (over a second: the cost this module exists to avoid).  While
    vectorbt is not loaded, stand-ins for ``vectorbt``, ``vectorbt.portfolio`` and that module,
    holding just :data:`ORDER_RECORD` and :data:`LOG_RECORD`, answer the import during the
    call; they are removed afterwards, so a later ``import vectorbt`` loads the real package.
    """
    if "vectorbt" in sys.modules:
        yield
        return
    lent = {name: types.ModuleType(name, "lent by engine.portfolio.orders") for name in
            ("vectorbt", "vectorbt.portfolio", RECORD_MODULE)}
    lent[RECORD_MODULE].order_dt = ORDER_RECORD
    lent[RECORD_MODULE].log_dt = LOG_RECORD
    sys.modules.update(lent)
    try:
        yield
    finally:
        for name, module in lent.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def _filled(close: np.ndarray) -> np.ndarray:
    """``close`` forward- then backward-filled along sessions (``Portfolio.get_filled_close``);
    a column without any price stays NaN."""
    rows = np.arange(close.shape[0])[:, None]
    known = ~np.isnan(close)
    last = np.maximum.accumulate(np.where(known, rows, 0), axis=0)
    filled = np.take_along_axis(close, last, axis=0)
    first = np.argmax(known, axis=0)
    return np.where(np.isnan(filled), close[first, np.arange(close.shape[1])], filled)


def _call_sequence(orders: Orders) -> np.ndarray:
    """0, 1, ... within each group on every session, Fortran-ordered and writable: the engine
    sorts it in place (``vectorbt.portfolio.nb.build_call_seq`` with ``CallSeqType.Default``)."""
    within = np.concatenate([np.arange(n, dtype=np.int64) for n in orders.group_lens])
    return np.require(np.broadcast_to(within, orders.shape), np.int64, ["A", "O", "W", "F"])


def simulate_compiled(orders: Orders) -> Simulated:
    """Simulate ``orders`` through vectorbt's compiled engine, without importing vectorbt."""
    rs = _compiled_engine()
    shape = orders.shape
    group_lens = np.asarray(orders.group_lens, dtype=np.int64)
    init_cash = np.full(len(group_lens), orders.init_cash, dtype=np.float64)
    args = {
        name: np.asarray(orders.order_args.get(name, default), dtype=dtype)
        for name, (default, dtype) in ORDER_DEFAULTS.items()
    }
    close = np.asarray(orders.close, dtype=np.float64)
    with _record_dtypes():
        records, _ = rs.simulate_from_orders_rs(
            shape,
            group_lens,
            init_cash,
            _call_sequence(orders),
            np.asarray(orders.size, dtype=np.float64),
            args.pop("price"),
            np.asarray(SIZE_TYPES[orders.size_type], dtype=np.int64),
            *args.values(),  # direction ... val_price, in the engine's order
            close,
            auto_call_seq=True,
            ffill_val_price=True,
            update_value=False,
            max_orders=shape[0] * shape[1],
            max_logs=shape[0] * shape[1] if np.any(args["log"]) else 1,
            init_temp_records=False,
            seed=None,
            flex_2d=True,
        )
        columns = records["col"]
        col_idxs = np.argsort(columns, kind="stable").astype(np.int64)
        col_lens = np.bincount(columns, minlength=shape[1]).astype(np.int64)
        assets = rs.assets_rs(rs.asset_flow_rs(records, col_idxs, col_lens, shape, 2))
        priced = _filled(close)
        priced[assets == 0] = 0.0  # a column holding nothing is worth nothing, whatever its price
        asset_value = rs.asset_value_rs(priced, assets)
        cash_flow = rs.cash_flow_rs(records, col_idxs, col_lens, shape, False)
        cash = rs.cash_grouped_rs(
            shape,
            rs.cash_flow_grouped_rs(cash_flow, group_lens),
            group_lens,
            rs.init_cash_grouped_rs(init_cash, group_lens, True),
        )
        value = rs.value_rs(cash, rs.asset_value_grouped_rs(asset_value, group_lens))
    return Simulated(records, value, asset_value, cash_flow)


def numba_cache_dir() -> None:
    """Point numba's kernel cache at a writable folder before vectorbt compiles anything."""
    if "NUMBA_CACHE_DIR" not in os.environ:
        import platformdirs

        os.environ["NUMBA_CACHE_DIR"] = os.path.join(platformdirs.user_cache_dir("basket"), "numba")


def simulate_portfolio(orders: Orders) -> Simulated:
    """Simulate ``orders`` with ``vbt.Portfolio.from_orders``: the reference."""
    numba_cache_dir()
    import pandas as pd
    import vectorbt as vbt

    groups = np.repeat(np.arange(len(orders.group_lens)), orders.group_lens)
    columns = pd.MultiIndex.from_arrays([groups, np.arange(orders.shape[1])], names=["g", "c"])
    portfolio = vbt.Portfolio.from_orders(
        pd.DataFrame(orders.close, columns=columns),
        pd.DataFrame(orders.size, columns=columns),
        size_type=orders.size_type,
        group_by="g",
        cash_sharing=True,
        call_seq="auto",
        init_cash=orders.init_cash,
        freq="1D",
        **orders.order_args,
    )
    return Simulated(
        records=portfolio.orders.values,
        value=np.asarray(portfolio.value()).reshape(orders.shape[0], -1),
        asset_value=np.asarray(portfolio.asset_value(group_by=False)),
        cash_flow=np.asarray(portfolio.cash_flow(group_by=False)),
    )


def simulate(orders: Orders) -> tuple[Simulated, list[str]]:
    """Simulate ``orders`` through the compiled engine, else (not installed) through
    ``vbt.Portfolio``; returns the outcome and the notes to show (the fallback's)."""
    try:
        _compiled_engine()
    except ImportError:
        return simulate_portfolio(orders), [FALLBACK_NOTE]
    return simulate_compiled(orders), []
