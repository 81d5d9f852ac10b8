"""Weight caps, applied after a weighting scheme, as capped thematic indices do.

Caps bind **issuers**: constituents sharing an ``issuer`` (Alibaba's 9988.HK and BABA) are one
group whose total weight is capped, its members scaled in proportion.  Two rules:

* ``single``: no issuer above ``single`` (KWEB's index 10 %, Hang Seng TECH 8 %).  Iterative
  proportional redistribution: issuers above the cap are set to it and the excess is shared
  among the others in proportion to their weights, until none exceeds it.  The fixed point is
  ``w'_k = min(L, lambda * w_k)`` with ``L`` the cap and ``lambda`` making the weights sum to 1
  (the capping step of S&P's and MSCI's capped-index methodologies).
* ``top: [n, cap]``: the ``n`` largest issuers weigh at most ``cap`` together (KWEB's index: the
  top five at most 40 %; MSCI 10/40 is the cousin with a 5 % threshold).  Here the common cap
  level ``L`` is lowered, from ``single`` (or 1), to the highest level at which the ``n`` largest
  weigh at most ``cap``; weights keep their order, which redistributing only the top ``n``
  would not.

Caps are feasible only when ``issuers * single >= 1`` and ``n / issuers <= cap`` (equal weights
are the flattest possible); otherwise :class:`~engine.errors.ConfigError` says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.errors import ConfigError

#: Slack for "above the cap" and for feasibility: float sums of capped weights are not exact.
TOLERANCE = 1e-12
#: Bisection steps for the ``top`` rule's common level (2**-200 is far below any tolerance).
BISECTION_STEPS = 200


def clip_proportionally(weights: np.ndarray, cap: float) -> np.ndarray:
    """Weights (non-negative, summing to 1) with none above ``cap``: those above it are set to
    it and the excess is redistributed over the rest in proportion to their weights, repeated
    until none exceeds it (at most ``len(weights)`` rounds).  Needs ``len * cap >= 1``."""
    capped = np.zeros(len(weights), dtype=bool)
    while True:
        free_total = weights[~capped].sum()
        scale = (1.0 - cap * capped.sum()) / free_total if free_total > 0 else 0.0
        result = np.where(capped, cap, weights * scale)
        over = ~capped & (result > cap * (1 + TOLERANCE))
        if not over.any():
            return result
        capped |= over


def largest_sum(weights: np.ndarray, count: int) -> float:
    """Total weight of the ``count`` largest weights."""
    return float(np.sort(weights)[::-1][:count].sum())


def _top_level(weights: np.ndarray, ceiling: float, count: int, cap: float) -> np.ndarray:
    """The weights clipped at the highest common level ``L <= ceiling`` at which the ``count``
    largest weigh at most ``cap`` (bisection; at ``L = 1/len`` every weight is equal)."""
    clipped = clip_proportionally(weights, ceiling)
    if largest_sum(clipped, count) <= cap:
        return clipped
    low, high = 1.0 / len(weights), ceiling
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        if largest_sum(clip_proportionally(weights, middle), count) <= cap:
            low = middle
        else:
            high = middle
    return clip_proportionally(weights, low)


def cap_weights(
    weights: Sequence[float],
    *,
    single: float | None = None,
    top: tuple[int, float] | None = None,
    issuers: Sequence[str] | None = None,
    where: str = "caps",
) -> np.ndarray:
    """Capped weights (same order as ``weights``, summing to 1).

    ``weights``: non-negative, summing to 1.  ``issuers``: one label per weight (default: each
    its own); caps bind issuer totals, members keep their shares of their issuer.  ``where``
    names the basket in errors.  Raises :class:`ConfigError` when the caps are infeasible.
    """
    weights = np.asarray(weights, dtype=float)
    labels = list(issuers) if issuers is not None else [str(i) for i in range(len(weights))]
    groups, group_of = np.unique(np.array(labels, dtype=object), return_inverse=True)
    totals = np.bincount(group_of, weights=weights, minlength=len(groups))
    count = len(groups)
    if single is not None and count * single < 1 - TOLERANCE:
        raise ConfigError(
            where,
            f"caps.single {single:g} cannot hold {count} issuer(s)",
            field="caps.single",
            hint=f"raise it to at least {1 / count:.4g} or add constituents",
        )
    if top is not None and min(top[0], count) / count > top[1] + TOLERANCE:
        raise ConfigError(
            where,
            f"caps.top: the {top[0]} largest of {count} issuer(s) cannot weigh at most {top[1]:g}",
            field="caps.top",
            hint="raise the cap, lower the count or add constituents",
        )
    ceiling = 1.0 if single is None else single
    if top is None:
        capped = clip_proportionally(totals, ceiling)
    else:
        capped = _top_level(totals, ceiling, top[0], top[1])
    share = np.divide(weights, totals[group_of], out=np.zeros_like(weights), where=weights > 0)
    result = capped[group_of] * share
    return result / result.sum()
