"""Normal-return models and their estimation: what a stock would have returned without the event.

Fitted on the estimation days (default -250..-30), each model gives a normal return ``N_t`` for
every day of the study range and the residual standard deviation ``s`` the tests scale by:

* ``market``: ``R_t = alpha + beta Rm_t + e_t`` by OLS; ``s^2 = sum e^2 / (T - 2)``.
* ``market_adjusted``: ``N_t = Rm_t``; ``s`` the sample sd of ``R - Rm``.
* ``mean_adjusted``: ``N_t = mean(R)`` over the estimation days; ``s`` its sample sd.

Standard errors of CARs (forecast-error corrected) come from :mod:`engine.analysis.significance`.
May use ``analysis.significance`` and the ground floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.analysis import significance as sig

MODELS = ("market", "market_adjusted", "mean_adjusted")


@dataclass
class Fit:
    """A stock's (or portfolio's) normal-return model over its estimation days."""

    model: str
    normal: np.ndarray  # normal return per day of the study range
    sigma: float
    n_estimation: int
    dof: int
    market_estimation: np.ndarray  # market returns of the estimation days used

    def car_se(self, market_returns: np.ndarray) -> float:
        """Forecast-error corrected standard error of a CAR over the days whose market
        returns are ``market_returns`` (one per day of the window)."""
        if self.model == "market":
            return sig.market_model_car_se(self.sigma, market_returns, self.market_estimation)
        if self.model == "mean_adjusted":
            return sig.mean_adjusted_car_se(self.sigma, len(market_returns), self.n_estimation)
        return sig.market_adjusted_car_se(self.sigma, len(market_returns))


def fit_normal_returns(
    returns: np.ndarray, market_returns: np.ndarray, estimation: np.ndarray, model: str
) -> Fit | None:
    """Fit ``model`` on the days where ``estimation`` is true; normal returns for every day.

    * ``market``: OLS ``beta = sum (Rm - mean Rm)(R - mean R) / sum (Rm - mean Rm)^2``,
      ``alpha = mean R - beta mean Rm``; normal ``alpha + beta Rm_t``;
      ``s^2 = sum e^2 / (T - 2)``, ``dof = T - 2``.
    * ``market_adjusted``: normal ``Rm_t``; ``s`` = sample sd (ddof 1) of ``R - Rm``,
      ``dof = T - 1``.
    * ``mean_adjusted``: normal ``mean R``; ``s`` = sample sd of ``R``, ``dof = T - 1``.

    (MacKinlay 1997, "Event Studies in Economics and Finance", JEL 35(1), sections 4.1-4.2.)
    Returns None when the market model is unidentified (constant market returns).
    """
    r, m = returns[estimation], market_returns[estimation]
    size = int(estimation.sum())
    if model == "market":
        m_mean, r_mean = m.mean(), r.mean()
        sxx = ((m - m_mean) ** 2).sum()
        if sxx == 0:
            return None
        beta = ((m - m_mean) * (r - r_mean)).sum() / sxx
        alpha = r_mean - beta * m_mean
        residuals = r - alpha - beta * m
        sigma = math.sqrt((residuals**2).sum() / (size - 2))
        return Fit(model, alpha + beta * market_returns, sigma, size, size - 2, m)
    if model == "market_adjusted":
        sigma = float(np.std(r - m, ddof=1))
        return Fit(model, market_returns.copy(), sigma, size, size - 1, m)
    normal = np.full(len(returns), r.mean())
    return Fit(model, normal, float(np.std(r, ddof=1)), size, size - 1, m)
