import json

import pytest

from forecasting.store import model_store

from forecasting.errors import ModelSetNotFound, UntrustedModelSet
from forecasting.store.caches import LoadedCache, TrustedInfos
from forecasting.store.model_store import ModelStore
from forecasting.store.signature import Signer
from tests.forecasting.conftest import make_signer
from tests.forecasting.store.test_model_store import FakeModelSet, Loader


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "ml_models" / "forecasting", signer=make_signer())


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


def test_forecast_memo_serves_the_first_days_of_the_longest_forecast_per_key():
    from forecasting.store.caches import ForecastMemo

    memo = ForecastMemo(max_entries=2)
    days = [{"day": n} for n in range(90)]
    assert memo.get(("set-a", "fp"), 30) is None
    memo.put(("set-a", "fp"), days[:60])
    assert memo.get(("set-a", "fp"), 30) == days[:30] and memo.get(("set-a", "fp"), 60) == days[:60]
    assert memo.get(("set-a", "fp"), 61) is None  # longer than kept: the caller computes it
    memo.put(("set-a", "fp"), days)
    memo.put(("set-a", "fp"), days[:10])  # a shorter one never replaces a longer one
    assert memo.get(("set-a", "fp"), 90) == days and memo.hits == 3
    assert memo.get(("set-a", "other data"), 10) is None and memo.get(("set-b", "fp"), 10) is None


def test_forecast_memo_forgets_the_least_recently_used():
    from forecasting.store.caches import ForecastMemo

    memo = ForecastMemo(max_entries=2)
    for key in ("a", "b"):
        memo.put(key, [key])
    assert memo.get("a", 1) == ["a"]  # "b" is now the least recent
    memo.put("c", ["c"])
    assert memo.get("b", 1) is None and memo.get("a", 1) == ["a"] and len(memo) == 2


def test_a_memo_of_no_entries_keeps_nothing():
    from forecasting.store.caches import ForecastMemo

    memo = ForecastMemo(max_entries=0)
    memo.put("k", [1])
    assert memo.get("k", 1) is None and len(memo) == 0


def test_a_memo_tells_which_keys_it_keeps():
    from forecasting.store.caches import ForecastMemo

    memo = ForecastMemo(max_entries=1)
    memo.put("a", [1])
    assert "a" in memo and "b" not in memo
    memo.put("b", [2])
    assert "a" not in memo


class CountingStore:
    """A store that counts how often model_info.json is parsed and verified."""

    def __init__(self, store: ModelStore) -> None:
        self.store, self.reads, self.digests = store, 0, 0

    def info_version(self, product_id: int):
        return self.store.info_version(product_id)

    def info_digest(self, product_id: int):
        self.digests += 1
        return self.store.info_digest(product_id)

    def read_info(self, product_id: int):
        self.reads += 1
        return self.store.read_info(product_id)


def test_trusted_infos_verify_a_file_once_and_again_when_it_changes(store):
    infos, counting = TrustedInfos(), CountingStore(store)
    assert infos.read(counting, 1) is None
    first = store.save(1, FakeModelSet(1), {"trained_at": "first"})
    assert infos.read(counting, 1) == first and infos.read(counting, 1) == first
    assert counting.reads == 1
    second = store.save(1, FakeModelSet(2), {"trained_at": "second"})
    assert infos.read(counting, 1) == second and counting.reads == 2


def test_trusted_infos_never_keep_a_file_that_does_not_verify(store):
    infos, counting = TrustedInfos(), CountingStore(store)
    info = store.save(1, FakeModelSet(1), {"trained_at": "signed"})
    assert infos.read(counting, 1) == info
    path = store.path(1) / "model_info.json"
    path.write_text(json.dumps({**info, "trained_at": "forged"}))
    for _ in range(2):
        with pytest.raises(UntrustedModelSet):
            infos.read(counting, 1)
    assert counting.reads == 3


def test_trusted_infos_by_stat_skip_the_file_and_see_a_retrain_at_once(store, monkeypatch):
    # Files count as settled at once, so the stat alone decides: what a set written long ago meets.
    monkeypatch.setattr(model_store, "SETTLED_NS", 0)
    infos, counting = TrustedInfos(), CountingStore(store)
    first = store.save(1, FakeModelSet(1), {"trained_at": "first"})
    assert infos.read(counting, 1) == first and counting.digests == 1
    assert infos.read(counting, 1) == first and counting.digests == 1 and counting.reads == 1
    for n in (2, 3):
        retrained = store.save(1, FakeModelSet(n), {"trained_at": f"retrain {n}"})  # new files, at once
        assert infos.read(counting, 1) == retrained and counting.reads == n
        assert infos.read(counting, 1) == retrained and counting.reads == n
    elsewhere = ModelStore(store.root, signer=Signer(["key of another environment"]))
    elsewhere.save(1, FakeModelSet(4), {"trained_at": "elsewhere"})
    with pytest.raises(UntrustedModelSet):
        infos.read(counting, 1)
    assert store.resign(1, source=elsewhere.signer) is True  # signed again: a new file too
    assert infos.read(counting, 1) == store.read_info(1) and infos.read(counting, 1)["trained_at"] == "elsewhere"
    store.delete(1)
    assert infos.read(counting, 1) is None


def test_a_file_written_within_the_settling_time_is_read_by_its_digest(store):
    infos, counting = TrustedInfos(), CountingStore(store)
    info = store.save(1, FakeModelSet(1), {"trained_at": "now"})
    assert store.info_version(1) is None and store.info_version(2) is None
    assert infos.read(counting, 1) == info and infos.read(counting, 1) == info
    assert counting.digests == 2 and counting.reads == 1
