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
