"""How a new device scales each kind of LUT entry relative to the source device, from a handful of
measured networks.

Model: an entry e that costs L_e on the source costs f0·(L_e + Σ_c c_ec·u_c) on the new device.
Its contributions c_ec are L_e in its kind's column (overhead, stem, MBConv transitions, ...),
L_e in its kind-and-stage column, and its FLOPs (in source milliseconds, at the source LUT's
average milliseconds per FLOP) in its kind's FLOPs column: a kind's cost may scale with what it
cost on the source, with its arithmetic, or both (portable kernels are slow in proportion to the
work, where XNNPACK's speed-up differs from op to op). f0 is the one-factor fit (what anchoring
alone gives); the u_c are ridge-shrunk towards 0, so what the networks cannot tell apart keeps
the common factor. Each group of columns has its own penalty, chosen by leave-one-out prediction
error over the measured networks: the data decides how fine the fit may be (with few networks it
stays at one factor). Errors are relative, so a 1 ms network counts as much as a 10 ms one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Penalties per level, strongest first: on ties in leave-one-out error the simpler model wins.
LAMBDAS = (1e6, 10.0, 3.0, 1.0, 0.3, 0.1, 0.03, 0.01)
MIN_RELATIVE = 0.05  # no entry may fall below 5% of the common factor: nothing becomes free or negative
MIN_FOR_LOO = 3  # fewer networks cannot tell a finer fit from noise: one common factor


@dataclass(frozen=True)
class Fit:
    common: float  # f0
    u: np.ndarray  # per column, relative to f0
    lambdas: tuple[float, ...]  # per level
    fitted_ms: np.ndarray  # per network
    loo_ms: np.ndarray  # per network, predicted without it (nan when not estimated)
    sigma: float | None  # relative residual scale; None when nothing is left to estimate it
    cov_u: np.ndarray | None

    def latency(self, base_ms: float, contribution: np.ndarray) -> float:
        """On the new device, a part that costs `base_ms` on the source and adds `contribution` to
        the columns (its kind's and stage's milliseconds, its FLOPs column): f0·(base + c·u)."""
        return self.common * (base_ms + float(contribution @ self.u))

    def latency_sd(self, base_ms: float, contribution: np.ndarray, networks: int) -> float | None:
        """Standard deviation of that latency: the ridge estimate's sandwich covariance plus the
        common factor's own (σ²/N), both from the relative residuals."""
        if self.sigma is None or self.cov_u is None:
            return None
        return self.common * float(np.sqrt(contribution @ self.cov_u @ contribution + (base_ms * self.sigma) ** 2 / networks))


def common_factor(total_ms: np.ndarray, measured_ms: np.ndarray) -> float:
    """The single factor minimising relative error: what anchoring the source LUT alone gives."""
    ratio = total_ms / measured_ms
    return float(ratio.sum() / (ratio**2).sum())


def _solve(x: np.ndarray, total: np.ndarray, measured: np.ndarray, penalty: np.ndarray) -> tuple[float, np.ndarray]:
    f0 = common_factor(total, measured)
    a = f0 * x / measured[:, None]
    b = 1.0 - f0 * total / measured
    u = np.linalg.solve(a.T @ a + np.diag(penalty), a.T @ b)
    return f0, u


def _predict(f0: float, u: np.ndarray, x: np.ndarray, total: np.ndarray) -> np.ndarray:
    return f0 * (total + x @ u)


def _loo(x: np.ndarray, total: np.ndarray, measured: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    out = np.empty(len(measured))
    for i in range(len(measured)):
        keep = np.arange(len(measured)) != i
        f0, u = _solve(x[keep], total[keep], measured[keep], penalty)
        out[i] = _predict(f0, u, x[i : i + 1], total[i : i + 1])[0]
    return out


def fit(
    x: np.ndarray, total: np.ndarray, measured: np.ndarray, levels: np.ndarray, entry_weights: np.ndarray,
    acceptable: Callable[[float, np.ndarray], bool] | None = None,
) -> Fit:
    """Fit the factors. `x[n, c]`: network n's source milliseconds in column c; `total[n]`: the
    source LUT's prediction of network n; `measured[n]`: its latency on the new device; `levels[c]`:
    the penalty group of column c (kind, kind and stage, FLOPs); `entry_weights[e, c]`: entry e's
    contribution to column c over its source latency, so no choice of penalties may make an entry
    cost less than MIN_RELATIVE·f0 times its source latency. `acceptable(f0, u)`, where given, must
    hold too: a fitted source's entries are not each a block's cost (its overhead carries their
    mean), so the transfer checks the space's fastest network stays above 0 ms."""
    n_levels = int(levels.max()) + 1 if levels.size else 1
    grid = [LAMBDAS[:1] * n_levels] if len(measured) < MIN_FOR_LOO else list(itertools.product(LAMBDAS, repeat=n_levels))
    best: tuple[float, tuple[float, ...], np.ndarray, float, np.ndarray] | None = None
    for lambdas in grid:
        penalty = np.asarray(lambdas)[levels]
        f0, u = _solve(x, total, measured, penalty)
        if np.any(1.0 + entry_weights @ u < MIN_RELATIVE) or (acceptable is not None and not acceptable(f0, u)):
            continue
        loo = _loo(x, total, measured, penalty) if len(grid) > 1 else np.full(len(measured), np.nan)
        score = float(np.mean(((loo - measured) / measured) ** 2)) if len(grid) > 1 else 0.0
        if best is None or score < best[0]:
            best = (score, lambdas, loo, f0, u)
    assert best is not None, "the strongest penalty keeps every factor at the common one"
    _, lambdas, loo, f0, u = best
    penalty = np.asarray(lambdas)[levels]
    fitted = _predict(f0, u, x, total)
    return Fit(f0, u, lambdas, fitted, loo, *_uncertainty(x, total, measured, f0, penalty, fitted))


def _uncertainty(
    x: np.ndarray, total: np.ndarray, measured: np.ndarray, f0: float, penalty: np.ndarray, fitted: np.ndarray
) -> tuple[float | None, np.ndarray | None]:
    """Residual scale over the degrees of freedom the ridge fit leaves (N minus the hat matrix's
    trace minus one for f0), and the sandwich covariance of u."""
    a = f0 * x / measured[:, None]
    inverse = np.linalg.inv(a.T @ a + np.diag(penalty))
    dof = len(measured) - float(np.trace(a @ inverse @ a.T)) - 1.0
    if dof < 0.5:
        return None, None
    sigma = float(np.sqrt(np.sum(((fitted - measured) / measured) ** 2) / dof))
    return sigma, sigma**2 * inverse @ (a.T @ a) @ inverse
