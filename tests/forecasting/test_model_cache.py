import pytest

from forecasting.errors import ModelSetNotFound
from forecasting.model_cache import LoadedCache
from forecasting.store import ModelStore
from tests.forecasting.test_store import FakeModelSet, Loader


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "ml_models" / "forecasting")


def test_loaded_cache_reuses_and_invalidates(store):
    cache, loader = LoadedCache(max_entries=2), Loader()
    store.save(1, FakeModelSet(1), {})
    store.save(2, FakeModelSet(2), {})
    store.save(3, FakeModelSet(3), {})
    assert cache.load(store, 1, loader)[0] == 1
    assert cache.load(store, 1, loader)[0] == 1
    assert loader.calls == 1 and cache.hits == 1
    store.save(1, FakeModelSet(11), {})  # a retrained set: new model_info.json
    assert cache.load(store, 1, loader)[0] == 11 and loader.calls == 2 and len(cache) == 1
    cache.load(store, 2, loader)
    cache.load(store, 3, loader)  # evicts product 1, the least recently used
    assert len(cache) == 2
    cache.load(store, 1, loader)
    assert loader.calls == 5
    store.delete(1)
    with pytest.raises(ModelSetNotFound):
        cache.load(store, 1, loader)
    assert len(cache) == 1


def test_a_cache_of_size_zero_keeps_nothing(store):
    cache, loader = LoadedCache(max_entries=0), Loader()
    store.save(1, FakeModelSet(1), {})
    assert cache.load(store, 1, loader)[0] == 1 and cache.load(store, 1, loader)[0] == 1
    assert loader.calls == 2 and cache.misses == 2 and len(cache) == 0


def test_forecast_memo_computes_once_per_key_and_forgets_the_least_recent():
    from forecasting.model_cache import ForecastMemo

    memo, calls = ForecastMemo(max_entries=2), []

    def compute(value):
        return lambda: calls.append(value) or value

    assert memo.get_or_compute(("set-a", "fp", 90), compute(1)) == 1
    assert memo.get_or_compute(("set-a", "fp", 90), compute(2)) == 1
    assert memo.get_or_compute(("set-a", "fp", 30), compute(3)) == 3
    assert memo.get_or_compute(("set-b", "fp", 90), compute(4)) == 4  # evicts ("set-a", "fp", 90)
    assert memo.get_or_compute(("set-a", "fp", 90), compute(5)) == 5
    assert calls == [1, 3, 4, 5] and memo.hits == 1 and len(memo) == 2


def test_a_memo_of_no_entries_keeps_nothing():
    from forecasting.model_cache import ForecastMemo

    memo = ForecastMemo(max_entries=0)
    memo.get_or_compute("k", lambda: 1)

    assert memo.get_or_compute("k", lambda: 2) == 2 and len(memo) == 0
