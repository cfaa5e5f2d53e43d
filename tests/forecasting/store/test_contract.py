"""One contract, two backends: a local folder and a real S3 (SeaweedFS) keep sets alike."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from forecasting.errors import ModelIntegrityError, ModelSetNotFound, UntrustedModelSet
from forecasting.store.caches import LoadedCache
from forecasting.store.contract import ModelSets
from forecasting.store.model_store import ModelStore
from forecasting.store.s3_store import S3ModelStore
from forecasting.store.signature import Signer
from tests.forecasting.conftest import make_signer
from tests.forecasting.store.test_model_store import FILES, BrokenSave, FakeModelSet, Loader

INFO = {"trained_at": "2024-06-30T00:00:00+00:00", "data": {"fingerprint": "abc"}}


@pytest.fixture(params=["folder", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    """Return a function making a store of this backend over one shared place, with the given signer."""
    if request.param == "folder":
        return lambda signer=None: ModelStore(tmp_path / "models", signer=signer or make_signer())
    server = request.getfixturevalue("s3")
    prefix = server.new_prefix()
    return lambda signer=None, **kw: S3ModelStore(server.client(), server.bucket, prefix,
                                                  signer=signer or make_signer(),
                                                  cache_dir=tmp_path / f"cache-{threading.get_ident()}", **kw)


def tamper(store: ModelSets, product_id: int, name: str) -> None:
    """Rewrite one stored file of the product's set, as someone with write access to the store could."""
    if isinstance(store, ModelStore):
        (store.path(product_id) / name).write_bytes(b"0:evil".ljust(2000, b"."))
        return
    assert isinstance(store, S3ModelStore)
    set_id = store.read_info(product_id)["set_id"]
    store.objects.put(store._key(product_id, set_id, name), b"0:evil".ljust(2000, b"."))


def test_round_trip(backend):
    store = backend()
    info = store.save(3, FakeModelSet(1), INFO)
    assert info["product_id"] == 3 and set(info["files"]) == set(FILES) and info["total_bytes"] == 8000
    assert store.read_info(3) == info and store.inspect(3) == (info, None)
    assert store.load(3, Loader()) == (1, info)
    assert store.info_digest(3) is not None and store.info_digest(4) is None
    [entry] = store.list_infos()
    assert entry["product_id"] == 3 and entry["status"] == "ok" and entry["fingerprint"] == "abc"
    assert set(FILES) <= set(entry["sizes"]) and store.writable()


def test_a_new_set_replaces_the_old_one_whole(backend):
    store = backend()
    first = store.save(1, FakeModelSet(1), INFO)
    digest = store.info_digest(1)
    second = store.save(1, FakeModelSet(2), INFO)
    assert second["set_id"] != first["set_id"] and store.info_digest(1) != digest
    assert store.load(1, Loader()) == (2, second)


def test_a_save_that_fails_leaves_the_previous_set(backend):
    store = backend()
    kept = store.save(1, FakeModelSet(1), INFO)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save(1, BrokenSave(2), INFO)
    assert store.read_info(1) == kept and store.load(1, Loader())[0] == 1


def test_readers_never_see_a_mixed_set(backend):
    store = backend()
    store.save(1, FakeModelSet(0), INFO)
    stop, errors, loads = threading.Event(), [], []

    def read() -> None:
        reader = backend()  # its own cache, as another process would have
        while not stop.is_set():
            try:
                loads.append(reader.load(1, Loader())[0])
            except Exception as exc:  # collected: the assertion below names it
                errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for generation in range(1, 6):
        store.save(1, FakeModelSet(generation), INFO)
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == [] and loads and set(loads) <= set(range(6))
    assert store.load(1, Loader())[0] == 5


def test_delete(backend):
    store = backend()
    store.save(1, FakeModelSet(1), INFO)
    store.save(2, FakeModelSet(1), INFO)
    assert store.delete(1) is True and store.delete(1) is False
    with pytest.raises(ModelSetNotFound):
        store.load(1, Loader())
    assert store.read_info(1) is None and [e["product_id"] for e in store.list_infos()] == [2]


def test_a_tampered_file_is_never_loaded(backend):
    store = backend()
    store.save(1, FakeModelSet(1), INFO)
    tamper(store, 1, "rf_model.pkl")
    loader = Loader()
    with pytest.raises(ModelIntegrityError, match="rf_model.pkl"):
        backend().load(1, loader)  # a reader that has not cached the set before
    assert loader.calls == 0


def test_a_set_signed_elsewhere_is_untrusted_until_signed_again(backend):
    backend(Signer(["key of another environment"])).save(1, FakeModelSet(1), INFO)
    store = backend()
    loader = Loader()
    with pytest.raises(UntrustedModelSet):
        store.load(1, loader)
    assert loader.calls == 0 and store.inspect(1)[1] is not None
    assert store.list_infos()[0]["status"] == "untrusted"
    with pytest.raises(UntrustedModelSet):
        store.resign(1)  # nobody vouched for it
    assert store.resign(1, source=Signer(["key of another environment"])) is True
    assert store.resign(1) is False
    assert store.load(1, Loader())[0] == 1 and store.list_infos()[0]["status"] == "ok"


def test_the_loaded_cache_follows_a_new_set(backend):
    store, cache = backend(), LoadedCache(4)
    store.save(1, FakeModelSet(1), INFO)
    assert cache.load(store, 1, Loader())[0] == 1 and cache.load(store, 1, Loader())[0] == 1
    assert (cache.hits, cache.misses) == (1, 1)
    store.save(1, FakeModelSet(2), INFO)
    assert cache.load(store, 1, Loader())[0] == 2 and cache.misses == 2
