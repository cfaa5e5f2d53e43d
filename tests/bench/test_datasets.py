"""The accuracy bench's data sets cut at an earlier window score the days the default window trains on."""

import numpy as np
import pytest

from bench import accuracy, datasets, targets
from bench.runner import Outcome
from tests import services

M5_ITEMS = datasets.M5_FOLDER / "sales_train_validation_10_series.csv"


def _loaded(name: str, limit: int | None, back: int) -> datasets.DataSet:
    found = datasets.load(name, limit, back)
    services.require(bool(found), f"the {name} data set under ../shared/data")
    return found[0]


@pytest.mark.parametrize("name", ["m5-items", "rossmann"])
def test_an_earlier_window_holds_out_the_days_before_the_default_one(name):
    back = 28
    default, earlier = _loaded(name, 2, 0), _loaded(name, 2, back)
    assert earlier.back == back and f"cut {back} days before" in earlier.description
    for now, before in zip(default.series, earlier.series, strict=True):
        assert now.key == before.key
        # The earlier window holds out the horizon that ends `back` days before the default's end.
        full = np.concatenate([now.train.to_numpy(), now.actual])
        assert before.train.index[-1] == now.train.index[-1] - np.timedelta64(back, "D")
        np.testing.assert_array_equal(before.actual, full[-back - default.horizon : -back])
        np.testing.assert_array_equal(before.train.to_numpy(), full[len(full) - back - default.horizon - len(before.train) : -back - default.horizon])
        if before.calendar is not None:
            # Nothing after the earlier window is passed on, not even the calendar.
            assert before.calendar.index[-1] == before.train.index[-1] + np.timedelta64(default.horizon, "D")


@pytest.mark.parametrize("back", [0, 56])
def test_the_dead_item_is_judged_on_the_default_window_only(back):
    services.require(M5_ITEMS.is_file(), "the M5 item series under ../shared/data")
    data = _loaded("m5-items", None, back)
    flat = {split.key: Outcome(mean=np.zeros(data.horizon)) for split in data.series}
    found = accuracy.facts(data, {targets.ENSEMBLE: flat})
    assert ("dead_item_mean" in found) == (back == 0)
    verdicts = [v.figure for v in targets.judge(data.name, {targets.ENSEMBLE: {"metric": 0.7}}, found)]
    assert any(datasets.M5_DEAD_ITEM in figure for figure in verdicts) == (back == 0)


def test_a_negative_window_is_refused():
    with pytest.raises(ValueError, match="back"):
        datasets.load("m5-items", 1, -1)


def test_rossmann_from_a_later_store_scores_complete_stores_the_default_run_does_not_hold():
    default = {split.key for split in _loaded("rossmann", None, 0).series}
    found = datasets.load("rossmann", 3, 0, rossmann_from=1000)
    services.require(bool(found), "the rossmann data set under ../shared/data")
    later = found[0]
    numbers = [int(split.key.split("-")[1]) for split in later.series]
    assert len(numbers) == 3 and all(number >= 1000 for number in numbers) and numbers == sorted(numbers)
    assert not default & {split.key for split in later.series}
    assert "from store 1000" in later.description and "from store 1000" in found[1].description
    # Complete stores only: every day of the file, train and held-out days together.
    lengths = {len(split.train) + len(split.actual) for split in later.series}
    assert lengths == {len(default_split.train) + len(default_split.actual)
                       for default_split in _loaded("rossmann", 2, 0).series}
    with pytest.raises(ValueError, match="rossmann_from"):
        datasets.load("rossmann", 1, 0, rossmann_from=0)
