"""k-fold cross-validation of the ranking weights: fit on k-1 folds, score the held-out one.

A figure measured on the items the weights were tuned on says how well the weights remember the set;
the held-out figure says what to expect on text nobody has seen. Folds are dealt per stratum (query
kind, demand field) so every fold holds a share of each; the fit is coordinate descent over a small
declared grid from the shipped values, keeping a value only when it raises the training mean.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

S = TypeVar("S", bound="DataclassInstance")  # a setting: a frozen dataclass of weights
Metrics = Mapping[str, float]  # one item's figures (ndcg, mrr, ...)
Grid = Sequence[tuple[str, Sequence[Any]]]  # field name → the values to try
Evaluate = Callable[[Any], Awaitable[Mapping[str, Metrics]]]  # setting → figures of every item

EPSILON = 1e-9  # a change must beat the training mean by more than rounding to be kept


def assign_folds(strata: Mapping[str, str], k: int, seed: int) -> dict[str, int]:
    """Item id → fold in ``range(k)``: each stratum shuffled (seeded), then dealt round-robin,
    continuing from where the previous stratum stopped, so folds differ in size by at most one."""
    k = max(1, min(k, len(strata)))
    rng = random.Random(seed)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for item, stratum in strata.items():
        by_stratum[stratum].append(item)
    folds: dict[str, int] = {}
    dealt = 0
    for stratum in sorted(by_stratum):
        items = sorted(by_stratum[stratum])
        rng.shuffle(items)
        for item in items:
            folds[item] = dealt % k
            dealt += 1
    return folds


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass
class CrossValidation(Generic[S]):
    held_out: dict[str, Metrics]  # every item's figures under the setting fitted without it
    chosen: list[S]  # per fold
    folds: dict[str, int]
    settings_scored: int = 0
    fits: list[list[str]] = field(default_factory=list)  # per fold: the items its fit read


class Fitter(Generic[S]):
    """Scores settings once each (every item at a time; a setting's figures are cached) and fits
    a setting to a subset of items by coordinate descent over ``grid``."""

    def __init__(self, evaluate: Evaluate, objective: Callable[[Metrics], float], grid: Grid) -> None:
        self._evaluate = evaluate
        self.objective = objective
        self.grid = grid
        self._cache: dict[str, Mapping[str, Metrics]] = {}

    async def figures(self, setting: S) -> Mapping[str, Metrics]:
        key = repr(setting)  # a dataclass's repr names every field's value (a dict field is not hashable)
        if key not in self._cache:
            self._cache[key] = await self._evaluate(setting)
        return self._cache[key]

    @property
    def settings_scored(self) -> int:
        return len(self._cache)

    async def training_score(self, setting: S, items: Sequence[str]) -> float:
        figures = await self.figures(setting)
        return mean([self.objective(figures[item]) for item in items])

    async def fit(self, start: S, items: Sequence[str], *, passes: int = 2) -> S:
        """The best setting on ``items`` reachable from ``start`` one field at a time; ties keep
        the current value, so a field the items cannot tell apart stays as shipped."""
        best, best_score = start, await self.training_score(start, items)
        for _ in range(passes):
            improved = False
            for name, values in self.grid:
                for value in values:
                    if value == getattr(best, name):
                        continue
                    candidate = replace(best, **{name: value})
                    score = await self.training_score(candidate, items)
                    if score > best_score + EPSILON:
                        best, best_score, improved = candidate, score, True
            if not improved:
                break
        return best


async def cross_validate(
    fitter: Fitter[S], start: S, strata: Mapping[str, str], *, k: int, seed: int
) -> CrossValidation[S]:
    """Each fold's items scored with the setting fitted on the other folds' items only."""
    folds = assign_folds(strata, k, seed)
    held_out: dict[str, Metrics] = {}
    chosen: list[S] = []
    fits: list[list[str]] = []
    for fold in sorted(set(folds.values())):
        training = sorted(item for item, f in folds.items() if f != fold)
        testing = [item for item, f in folds.items() if f == fold]
        setting = await fitter.fit(start, training) if training else start
        figures = await fitter.figures(setting)
        held_out.update({item: figures[item] for item in testing})
        chosen.append(setting)
        fits.append(training)
    return CrossValidation(held_out, chosen, folds, fitter.settings_scored, fits)


def average(figures: Mapping[str, Metrics], items: Sequence[str] | None = None) -> dict[str, float]:
    """Mean of each figure over ``items`` (default: all); 0 for a figure no item has."""
    chosen = list(figures) if items is None else list(items)
    names = sorted({name for item in chosen for name in figures[item]})
    return defaultdict(float, {name: mean([figures[item].get(name, 0.0) for item in chosen]) for name in names})
