"""Fitting an additive table to whole-network timings, with the device's drift taken out.

Model: network n, measured at position t_n, takes y_n = exp(d(t_n)) * sum_e c_ne * l_e, where c_ne
counts entry e in network n and d is the device's drift (heat, governor, other work), normalised so
that its median over the timings is 0: the table prices the device in its typical state.

The table is a ridge fit on relative error (a 20 ms network counts as much as a 60 ms one) with a
hierarchical prior: each entry is l_e = b_e + sum_g M_eg * theta_g, where the groups g come from the
space (`TableSpace.groups`: the entry's arithmetic, its kind of block, the blocks of its shape) and
the b_e, shrunk towards 0, are what the entry does that its groups do not say. So ten networks fix a
kind's cost and its cost per FLOP, and a thousand fix each entry. Each level's penalty is chosen
by FOLDS-fold cross-validation from a small grid: the data decides how far it leans on the prior.

d is the median of the residuals of the network's NEIGHBOURS nearest networks in measurement order,
itself left out: public phone timings drift on the scale of a few networks (HELP's residuals:
lag-1 autocorrelation 0.54-0.69, ramps within batches of 200-500 networks), so a local median
follows it where a smooth curve would not. Table and drift are fitted in turn, ITERATIONS times.
With no order, d = 0 and the drift stays in the error.

The margin a search should add is calibrated from out-of-fold predictions: the MARGIN_QUANTILE
quantile of measured (drift taken out) over predicted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import linalg

NEIGHBOURS = 4
ITERATIONS = 5
FOLDS = 5
MIN_FOR_CV = 4 * FOLDS  # fewer networks cannot tell the grid's points apart: the fit leans on the groups
MARGIN_QUANTILE = 0.95
Z95 = 1.96
# Candidate penalties, each relative to its column's own weight in the design: the entries' own
# parts (b_e), then one tuple per group level in `groups` order (its arithmetic barely penalised).
ENTRY_PENALTIES = (0.01, 0.1, 1.0, 10.0, 100.0)
GROUP_PENALTIES = {"flops": (1e-3,), "kind": (0.1, 1.0), "shape": (1.0, 10.0)}


@dataclass(frozen=True)
class TableFit:
    latency_ms: np.ndarray  # per entry
    se_ms: np.ndarray  # per entry: the ridge estimate's standard error (sandwich), from the relative residuals
    drift: np.ndarray  # per network: exp(d), the factor its timing carried (1 without an order)
    residual_sd: float  # relative, after the drift
    lag1_before: float | None  # residuals' lag-1 autocorrelation in measurement order, before and after the drift
    lag1_after: float | None
    penalties: dict[str, float]  # per level, as cross-validation chose them

    def predict(self, counts: np.ndarray) -> np.ndarray:
        return counts @ self.latency_ms


def neighbour_drift(order: np.ndarray, residual: np.ndarray, at: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray:
    """The median of the `k` residuals measured nearest to each position of `at` (a row measured at
    that very position, itself, left out), in log space."""
    sorting = np.argsort(order, kind="stable")
    o, r = order[sorting], residual[sorting]
    pos = np.searchsorted(o, at)
    cand = np.clip(pos[:, None] + np.arange(-k - 1, k + 1)[None, :], 0, len(o) - 1)
    distance = np.abs(o[cand] - at[:, None]).astype(float)
    distance[o[cand] == at[:, None]] = np.inf
    distance[:, 1:][np.diff(cand, axis=1) == 0] = np.inf  # an index clipped at an end counts once
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    usable = np.take_along_axis(distance, nearest, axis=1) < np.inf
    values = np.where(usable, r[np.take_along_axis(cand, nearest, axis=1)], np.nan)
    with np.errstate(all="ignore"):
        out = np.nanmedian(np.where(usable.any(axis=1)[:, None], values, 0.0), axis=1)
    return np.nan_to_num(out)


@dataclass(frozen=True)
class Prior:
    """The design's extra columns: per level, the matrix M (entries x groups), and which entry is
    left unpenalised (the overhead, which every network holds once)."""

    levels: tuple[tuple[str, np.ndarray], ...]
    free: np.ndarray  # bool per entry

    def design(self, counts: np.ndarray) -> np.ndarray:
        return np.hstack([counts, *(counts @ m for _, m in self.levels)])

    def to_entries(self) -> np.ndarray:
        """Entries x coefficients: how every coefficient adds to each entry's latency."""
        return np.hstack([np.eye(len(self.free)), *(m for _, m in self.levels)])

    def penalty(self, choice: dict[str, float]) -> np.ndarray:
        parts = [np.where(self.free, 0.0, choice["entries"])] + [np.full(m.shape[1], choice[name]) for name, m in self.levels]
        return np.concatenate(parts)

    def grid(self) -> list[dict[str, float]]:
        names = ["entries", *(name for name, _ in self.levels)]
        options = [ENTRY_PENALTIES, *(GROUP_PENALTIES.get(name, (1.0,)) for name, _ in self.levels)]
        return [dict(zip(names, values)) for values in itertools.product(*options)]


def _normalised(design: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weighted design with every column at unit weight, and the columns' norms: a column in
    FLOPs (10^7 per entry) and one in counts are then solved to the same precision, and each
    penalty is relative to its column's weight in the design."""
    a = design * weight[:, None]
    norm = np.sqrt(np.einsum("nc,nc->c", a, a))
    norm[norm == 0] = 1.0
    return a / norm, norm


def _ridge(gram: np.ndarray, rhs: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """(G + diag(penalty))^-1 rhs: positive definite, since only the overhead is unpenalised and
    no other column holds it; a least-squares answer where rounding says otherwise."""
    try:
        return linalg.solve(gram + np.diag(penalty), rhs, assume_a="pos")
    except (linalg.LinAlgError, ValueError):
        return np.linalg.lstsq(gram + np.diag(penalty), rhs, rcond=None)[0]


def _solve(design: np.ndarray, target: np.ndarray, weight: np.ndarray, penalty: np.ndarray, spread: bool = False) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Coefficients; with `spread`, also their sandwich covariance per unit relative variance and
    the degrees of freedom the fit uses (the hat matrix's trace)."""
    a, norm = _normalised(design, weight)
    gram = a.T @ a
    beta = _ridge(gram, a.T @ (target * weight), penalty)
    if not spread:
        return beta / norm, None, 0.0
    inverse = _ridge(gram, np.eye(len(gram)), penalty)
    return beta / norm, (inverse @ gram @ inverse) / np.outer(norm, norm), float(np.trace(inverse @ gram))


def _weight(latency: np.ndarray, repeats: np.ndarray | None) -> np.ndarray:
    return (np.sqrt(repeats) if repeats is not None else 1.0) / latency


def choose_penalties(counts: np.ndarray, quiet: np.ndarray, prior: Prior, repeats: np.ndarray | None, seed: int) -> dict[str, float]:
    """The grid point whose FOLDS-fold predictions of the drift-free timings have the least mean
    squared relative error (ties: the first); with too few networks to fold, `leaning`."""
    grid = prior.grid()
    if len(quiet) < MIN_FOR_CV:
        return leaning(prior)
    design = prior.design(counts)
    weight = _weight(quiet, repeats)
    a, norm = _normalised(design, weight)
    fold = np.random.default_rng(seed).permutation(len(quiet)) % FOLDS
    gram, rhs = a.T @ a, a.T @ (quiet * weight)
    folds = [(gram - a[fold == f].T @ a[fold == f], rhs - a[fold == f].T @ (quiet * weight)[fold == f], fold == f) for f in range(FOLDS)]
    scores = []
    for choice in grid:
        penalty = prior.penalty(choice)
        error = 0.0
        for g, r, out in folds:
            beta = _ridge(g, r, penalty) / norm
            error += float(np.sum((design[out] @ beta / quiet[out] - 1.0) ** 2))
        scores.append(error)
    return grid[int(np.argmin(scores))]


def leaning(prior: Prior) -> dict[str, float]:
    """The grid point that leans most on the groups: the entries' own parts shrunk hardest, each
    group level at its lightest penalty."""
    return {"entries": max(ENTRY_PENALTIES), **{name: GROUP_PENALTIES.get(name, (1.0,))[0] for name, _ in prior.levels}}


def _lag1(values: np.ndarray, order: np.ndarray) -> float | None:
    v = values[np.argsort(order, kind="stable")]
    if len(v) < 3 or np.std(v[:-1]) == 0 or np.std(v[1:]) == 0:
        return None
    return float(np.corrcoef(v[:-1], v[1:])[0, 1])


def _drift_fit(design: np.ndarray, latency: np.ndarray, order: np.ndarray | None, weight: np.ndarray, penalty: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.zeros(len(latency))
    first = None
    for _ in range(ITERATIONS if order is not None else 1):
        beta, _, _ = _solve(design, latency / np.exp(d), weight, penalty)
        residual = np.log(latency) - np.log(np.maximum(design @ beta, 1e-9))
        first = residual if first is None else first
        if order is None:
            break
        d = neighbour_drift(order, residual, order)
        d -= np.median(d)
    return beta, d, first


def fit_table(
    counts: np.ndarray, latency: np.ndarray, order: np.ndarray | None, prior: Prior, repeats: np.ndarray | None = None, seed: int = 0,
    penalties: dict[str, float] | None = None,
) -> TableFit:
    """The table and the drift; `penalties` skips their choice (an out-of-fold refit keeps the full fit's)."""
    design, weight = prior.design(counts), _weight(latency, repeats)
    choice = penalties
    if choice is None:
        _, d, _ = _drift_fit(design, latency, order, weight, prior.penalty(leaning(prior)))
        choice = choose_penalties(counts, latency / np.exp(d), prior, repeats, seed)
    beta, d, first = _drift_fit(design, latency, order, weight, prior.penalty(choice))
    _, sandwich, used = _solve(design, latency / np.exp(d), weight, prior.penalty(choice), spread=True)
    to_entries = prior.to_entries()
    predicted = np.maximum(design @ beta, 1e-9)
    relative = latency / np.exp(d) / predicted - 1.0
    sigma = float(np.sqrt(np.sum(relative**2) / max(len(latency) - used, 1.0)))
    se = np.sqrt(np.clip(np.einsum("ec,cd,ed->e", to_entries, sandwich, to_entries), 0, None)) * sigma
    lag_after = _lag1(np.log(latency / np.exp(d)) - np.log(predicted), order) if order is not None else None
    return TableFit(to_entries @ beta, se, np.exp(d), float(np.std(relative)), _lag1(first, order) if order is not None else None, lag_after, choice)


def out_of_fold(
    counts: np.ndarray, latency: np.ndarray, order: np.ndarray | None, prior: Prior, repeats: np.ndarray | None, seed: int, penalties: dict[str, float],
) -> np.ndarray:
    """Each network's prediction by a table fitted without its fold, at the full fit's penalties
    (NaN with fewer than 2 x FOLDS networks)."""
    out = np.full(len(latency), np.nan)
    if len(latency) < 2 * FOLDS:
        return out
    fold = np.random.default_rng(seed + 1).permutation(len(latency)) % FOLDS
    for f in range(FOLDS):
        keep = fold != f
        part = fit_table(counts[keep], latency[keep], None if order is None else order[keep], prior, None if repeats is None else repeats[keep], seed, penalties)
        out[~keep] = part.predict(counts[~keep])
    return out


def margin(measured_quiet: np.ndarray, predicted_oof: np.ndarray) -> float | None:
    """The relative margin under which MARGIN_QUANTILE of out-of-fold networks measure (0 when the
    fit is that safe already; None without out-of-fold predictions)."""
    ok = np.isfinite(predicted_oof) & (predicted_oof > 0)
    if ok.sum() < 2 * FOLDS:
        return None
    return max(float(np.quantile(measured_quiet[ok] / predicted_oof[ok], MARGIN_QUANTILE)) - 1.0, 0.0)


def rounding_step(latency: np.ndarray) -> float | None:
    """The step the timings are written in (1.0 for whole milliseconds), where every timing is a
    multiple of one step of at least 0.001 ms; None where they are not rounded that coarsely."""
    for step in (10.0, 5.0, 1.0, 0.5, 0.1, 0.05, 0.01, 0.001):
        if np.allclose(latency / step, np.round(latency / step), rtol=0, atol=1e-6):
            return step
    return None
