"""The evaluation's cross-validation: folds are fixed and stratified, and no item is ever scored
with weights fitted on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from search.evaluation.folds import Fitter, Metrics, assign_folds, average, cross_validate


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=6),
    k=st.integers(min_value=2, max_value=6),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_folds_are_deterministic_and_stratified(sizes: list[int], k: int, seed: int) -> None:
    strata = {f"{kind}-{i}": f"kind{kind}" for kind, size in enumerate(sizes) for i in range(size)}
    folds = assign_folds(strata, k, seed)
    assert folds == assign_folds(dict(reversed(strata.items())), k, seed)  # input order does not matter
    k = min(k, len(strata))
    sizes_per_fold = Counter(folds.values())
    assert set(sizes_per_fold) == set(range(k))
    assert max(sizes_per_fold.values()) - min(sizes_per_fold.values()) <= 1
    for kind, size in enumerate(sizes):  # each kind spread as evenly as the folds allow
        per_fold = Counter(folds[f"{kind}-{i}"] for i in range(size))
        assert max(per_fold.values()) == -(-size // k)
        assert len(per_fold) == min(size, k)


def test_another_seed_deals_other_folds() -> None:
    strata = {f"q{i}": "exact" for i in range(20)}
    assert assign_folds(strata, 5, 0) != assign_folds(strata, 5, 1)


@dataclass(frozen=True)
class Knob:
    value: int = -1


async def test_an_item_is_never_scored_with_weights_fitted_on_it() -> None:
    """A setting that memorises items: item i scores 1 only when ``value == i``. Fitted on the whole
    set it scores 1 on the item it picked; under CV each item's fold was fitted on other items,
    so a leak (the held-out item's own value chosen) would show as a score above 0."""
    items = [f"i{n}" for n in range(10)]
    seen: list[tuple[int, str]] = []

    class Recording(dict[str, Metrics]):
        def __init__(self, value: int) -> None:
            super().__init__({item: {"hit": float(value == n)} for n, item in enumerate(items)})
            self.value = value

        def __getitem__(self, item: str) -> Metrics:
            seen.append((self.value, item))
            return super().__getitem__(item)

    async def evaluate(knob: Knob) -> Mapping[str, Metrics]:
        return Recording(knob.value)

    fitter = Fitter[Knob](evaluate, lambda m: m["hit"], (("value", tuple(range(10))),))
    in_sample = await fitter.fit(Knob(), items)
    assert average(await fitter.figures(in_sample), items)["hit"] == 0.1  # one item remembered

    strata = {item: "kind" + str(n % 2) for n, item in enumerate(items)}
    seen.clear()
    cv = await cross_validate(fitter, Knob(), strata, k=5, seed=3)
    assert average(cv.held_out)["hit"] == 0.0
    for fold, (setting, training) in enumerate(zip(cv.chosen, cv.fits, strict=True)):
        held_out = {item for item, f in cv.folds.items() if f == fold}
        assert held_out and not held_out & set(training)
        assert setting.value not in {items.index(item) for item in held_out}
        assert setting == await fitter.fit(Knob(), training)  # chosen from the training items alone
    assert sorted(cv.held_out) == sorted(items)  # every item held out exactly once
