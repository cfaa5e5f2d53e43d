"""What only the S3 backend does: its URL, a missing bucket, old sets removed after grace, the local cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import load_settings, make_model_store
from forecasting.store.backends import S3Options, open_store, split_url
from forecasting.store.model_store import ModelStore
from forecasting.store.s3_store import S3ModelStore, StoreUnavailable
from tests.forecasting.conftest import make_signer
from tests.forecasting.store.test_model_store import FakeModelSet, Loader
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY

INFO = {"trained_at": "2024-06-30T00:00:00+00:00"}


def options(s3, tmp_path: Path, **kw) -> S3Options:
    return S3Options(endpoint_url=s3.endpoint_url, access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
                     region=REGION, cache_dir=tmp_path / "cache", **kw)


@pytest.mark.parametrize("url, parts", [
    ("", ("", "", "")), ("ml_models/forecasting", ("", "ml_models/forecasting", "")),
    ("file:///srv/models", ("", "/srv/models", "")), ("s3://bucket", ("s3", "bucket", "")),
    ("s3://bucket/a/b/", ("s3", "bucket", "a/b")),
])
def test_split_url(url, parts):
    assert split_url(url) == parts


@pytest.mark.parametrize("url", ["s3:///prefix", "gs://bucket/x", "http://host/models"])
def test_a_url_the_service_cannot_use_is_refused_at_start(url):
    with pytest.raises(ValueError, match="MODEL_STORE_URL"):
        load_settings(environ={"MODEL_STORE_URL": url}, dotenv=None)


def test_the_default_is_the_models_folder(tmp_path):
    settings = load_settings(environ={"FORECASTING_MODELS_PATH": str(tmp_path / "m"),
                                      "MODEL_SIGNING_KEY_FILE": str(tmp_path / "key")}, dotenv=None)
    store = make_model_store(settings)
    assert isinstance(store, ModelStore) and store.root == tmp_path / "m"


def test_settings_open_the_s3_store(s3, tmp_path):
    settings = load_settings(environ={
        "MODEL_STORE_URL": f"s3://{s3.bucket}/{s3.new_prefix()}", "S3_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_DEFAULT_REGION": REGION,
        "MODEL_STORE_CACHE_DIR": str(tmp_path / "cache"), "MODEL_SIGNING_KEY_FILE": str(tmp_path / "key"),
    }, dotenv=None)
    store = make_model_store(settings)
    assert isinstance(store, S3ModelStore) and store.writable()
    assert store.root.startswith(f"s3://{s3.bucket}/t-") and store.cache.root == tmp_path / "cache"


def test_a_missing_bucket_is_a_clear_error(s3, tmp_path):
    with pytest.raises(StoreUnavailable, match="bucket 'no-such-bucket' does not exist"):
        open_store("s3://no-such-bucket/models", signer=make_signer(), s3=options(s3, tmp_path))


def test_a_replaced_set_is_removed_after_the_grace_period(s3, tmp_path):
    prefix = s3.new_prefix()
    patient = open_store(f"s3://{s3.bucket}/{prefix}", signer=make_signer(), s3=options(s3, tmp_path))
    first = patient.save(1, FakeModelSet(1), INFO)
    second = patient.save(1, FakeModelSet(2), INFO)
    assert set_ids(patient, 1) == {first["set_id"], second["set_id"]}  # a reader may still fetch the first
    hasty = open_store(f"s3://{s3.bucket}/{prefix}", signer=make_signer(), s3=options(s3, tmp_path, grace_seconds=0))
    third = hasty.save(1, FakeModelSet(3), INFO)
    assert set_ids(hasty, 1) == {third["set_id"]} and hasty.load(1, Loader())[0] == 3


def set_ids(store: S3ModelStore, product_id: int) -> set[str]:
    base = store._key(product_id, "")
    keys = [obj["Key"][len(base):] for obj in store.objects.objects(base)]
    return {key.split("/")[0] for key in keys if "/" in key}


def test_the_local_cache_is_bounded_and_keyed_by_set(s3, tmp_path):
    store = open_store(f"s3://{s3.bucket}/{s3.new_prefix()}", signer=make_signer(),
                       s3=options(s3, tmp_path, cache_sets=2))
    ids = {pid: store.save(pid, FakeModelSet(pid), INFO)["set_id"] for pid in (1, 2, 3)}
    for pid in (1, 2, 3):
        assert store.load(pid, Loader())[0] == pid
    assert len(store.cache) == 2 and store.cache.get(ids[1]) is None and store.cache.get(ids[3]) is not None
    # Read through: a cached set is not fetched again (its objects are gone, it still loads).
    store.objects.delete(store._key(3, ids[3], "rf_model.pkl"))
    assert store.load(3, Loader())[0] == 3


def test_a_tampered_cached_copy_is_fetched_again(s3, tmp_path):
    store = open_store(f"s3://{s3.bucket}/{s3.new_prefix()}", signer=make_signer(), s3=options(s3, tmp_path))
    set_id = store.save(1, FakeModelSet(1), INFO)["set_id"]
    store.load(1, Loader())
    (store.cache.get(set_id) / "rf_model.pkl").write_bytes(b"2:evil".ljust(2000, b"."))
    assert store.load(1, Loader())[0] == 1
    assert (store.cache.get(set_id) / "rf_model.pkl").read_bytes().startswith(b"1:")


def test_an_upload_that_dies_midway_leaves_the_previous_set_current(s3, tmp_path, monkeypatch):
    store = open_store(f"s3://{s3.bucket}/{s3.new_prefix()}", signer=make_signer(), s3=options(s3, tmp_path))
    kept = store.save(1, FakeModelSet(1), INFO)
    upload, calls = store.objects.upload, []

    def dies_on_the_second_file(path, key):
        calls.append(key)
        if len(calls) == 2:
            raise ConnectionError("network gone")
        upload(path, key)

    monkeypatch.setattr(store.objects, "upload", dies_on_the_second_file)
    with pytest.raises(ConnectionError):
        store.save(1, FakeModelSet(2), INFO)
    reader = open_store(f"s3://{s3.bucket}/{store.objects.prefix}", signer=make_signer(),
                        s3=options(s3, tmp_path / "other"))
    assert reader.read_info(1) == kept and reader.load(1, Loader())[0] == 1
    assert [e["status"] for e in reader.list_infos()] == ["ok"]
