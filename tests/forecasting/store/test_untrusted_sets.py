"""A set whose model_info.json is not signed by one of the store's keys is never read past that file."""

import hashlib
import json
import pickle
from pathlib import Path

import pytest

from forecasting.errors import ModelIntegrityError, UntrustedModelSet
from forecasting.store.caches import LoadedCache
from forecasting.store.model_store import INFO_FILE, ModelStore
from forecasting.store.signature import Signer
from tests.forecasting.conftest import make_signer
from tests.forecasting.store.test_model_store import FILES, FakeModelSet, Loader


class Planted:
    """Unpickling it runs code: it creates the file `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"with open({str(self.marker)!r}, 'w') as f: f.write('code ran')",)


def plant(folder: Path, marker: Path, name: str = "prophet_model.pkl", *, resign: Signer | None = None) -> None:
    """Replace `name` with a code-running pickle and give model_info.json its true sha256 and size."""
    payload = pickle.dumps(Planted(marker))
    (folder / name).write_bytes(payload)
    info = json.loads((folder / INFO_FILE).read_text())
    info["files"][name] = {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)}
    if resign is not None:
        info = resign.sign(info)
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2))


class Unpickler(Loader):
    """A loader that unpickles every file, as the members' loaders do."""

    def __call__(self, directory: Path, info: dict) -> int:
        self.calls += 1
        for name in FILES:
            data = (directory / name).read_bytes()
            if data.startswith(b"\x80"):
                pickle.loads(data)
        return info["generation"]


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models", signer=make_signer())


@pytest.mark.parametrize("resign", [None, Signer(["a key the attacker made up"])], ids=["old-signature", "own-key"])
def test_a_planted_pickle_with_a_matching_checksum_is_never_unpickled(store, tmp_path, resign):
    store.save(4, FakeModelSet(1), {})
    marker = tmp_path / "marker"
    plant(store.root / "4", marker, resign=resign)
    loader = Unpickler()
    with pytest.raises(UntrustedModelSet, match="Model set of product 4 is untrusted") as caught:
        store.load(4, loader)
    assert caught.value.product_id == 4 and isinstance(caught.value, ModelIntegrityError)
    with pytest.raises(UntrustedModelSet):
        store.read_info(4)
    with pytest.raises(UntrustedModelSet):
        LoadedCache(4).load(store, 4, loader)
    assert loader.calls == 0 and not marker.exists()
    [listed] = store.list_infos()
    assert listed["status"] == "untrusted" and "Model set of product 4 is untrusted" in listed["error"]
    info, problem = store.inspect(4)
    assert info["files"]["prophet_model.pkl"]["bytes"] == (store.root / "4" / "prophet_model.pkl").stat().st_size
    assert problem in ("its signature does not match its content",
                       f"it is signed by a key this service does not hold (key id {resign and resign.key_id!r})")
    assert not marker.exists()


def test_a_signature_removed_makes_the_set_untrusted(store):
    store.save(1, FakeModelSet(1), {})
    path = store.root / "1" / INFO_FILE
    info = json.loads(path.read_text())
    del info["signature"]
    path.write_text(json.dumps(info))
    with pytest.raises(UntrustedModelSet, match="it has no signature"):
        store.load(1, Loader())


def test_a_set_from_an_environment_with_another_key_is_untrusted(tmp_path):
    staging = ModelStore(tmp_path / "staging", signer=Signer(["staging key"]))
    production = ModelStore(tmp_path / "production", signer=Signer(["production key"]))
    staging.save(1, FakeModelSet(1), {})
    (production.root / "1").parent.mkdir(parents=True)
    (staging.root / "1").rename(production.root / "1")
    loader = Loader()
    with pytest.raises(UntrustedModelSet, match="signed by a key this service does not hold"):
        production.load(1, loader)
    assert loader.calls == 0


def test_a_signed_set_of_another_product_is_untrusted_in_this_folder(store):
    store.save(1, FakeModelSet(1), {})
    (store.root / "1").rename(store.root / "2")
    with pytest.raises(UntrustedModelSet, match="it was signed for product 1"):
        store.load(2, Loader())


def test_a_set_signed_with_the_old_key_of_a_rotation_still_loads(tmp_path):
    before = ModelStore(tmp_path / "models", signer=Signer(["old key"]))
    info = before.save(1, FakeModelSet(1), {})
    after = ModelStore(tmp_path / "models", signer=Signer(["new key", "old key"]))
    assert after.load(1, Loader()) == (1, info)
    assert after.save(2, FakeModelSet(2), {})["signature"]["key_id"] == after.signer.key_id != info["signature"][
        "key_id"]
    dropped = ModelStore(tmp_path / "models", signer=Signer(["new key"]))
    with pytest.raises(UntrustedModelSet):
        dropped.load(1, Loader())
    assert dropped.load(2, Loader())[0] == 2


def test_the_loader_reads_a_private_copy_of_the_checked_files(store):
    store.save(1, FakeModelSet(1), {})
    live = store.root / "1"
    seen = {}

    def loader(directory: Path, info: dict) -> int:
        # A file replaced on the volume after its check is not what the loader reads.
        (live / "rf_model.pkl").write_bytes(b"replaced after the check")
        seen["folder"] = directory
        seen["rf"] = (directory / "rf_model.pkl").read_bytes()
        return 1

    assert store.load(1, loader)[0] == 1
    assert seen["folder"] != live and not seen["folder"].exists()  # removed once loaded
    assert seen["rf"].startswith(b"1:rf_model.pkl:")


def test_every_saved_info_is_signed_by_the_first_key(store):
    info = store.save(1, FakeModelSet(1), {"trained_at": "2024-06-30T00:00:00+00:00"})
    on_disk = json.loads((store.root / "1" / INFO_FILE).read_text())
    assert on_disk == info and info["signature"]["key_id"] == store.signer.key_id
    assert store.signer.problem(on_disk) is None and store.inspect(1) == (info, None)


def test_a_set_copied_with_its_environments_key_is_signed_again_and_then_loads(tmp_path):
    staging_keys = Signer(["staging key"])
    staging = ModelStore(tmp_path / "staging", signer=staging_keys)
    staging.save(1, FakeModelSet(1), {})
    production = ModelStore(tmp_path / "production", signer=Signer(["production key"]))
    production.root.mkdir()
    (staging.root / "1").rename(production.root / "1")
    with pytest.raises(UntrustedModelSet, match="signed by a key this service does not hold"):
        production.resign(1)  # without the source's keys nobody vouches for it
    assert production.resign(1, source=staging_keys) is True
    assert production.load(1, Loader())[0] == 1
    assert production.resign(1) is False  # already signed with the current key


def test_a_tampered_set_is_not_signed_again(tmp_path):
    staging_keys = Signer(["staging key"])
    store = ModelStore(tmp_path / "models", signer=Signer(["production key"]))
    ModelStore(tmp_path / "models", signer=staging_keys).save(1, FakeModelSet(1), {})
    marker = tmp_path / "marker"
    plant(store.root / "1", marker)
    with pytest.raises(UntrustedModelSet, match="does not match its content"):
        store.resign(1, source=staging_keys)
    with pytest.raises(UntrustedModelSet):
        store.load(1, Unpickler())
    assert not marker.exists()


def test_a_signed_set_whose_file_changed_is_not_signed_again(tmp_path):
    old = Signer(["old key"])
    ModelStore(tmp_path / "models", signer=old).save(1, FakeModelSet(1), {})
    store = ModelStore(tmp_path / "models", signer=Signer(["new key", "old key"]))
    (store.root / "1" / "rf_model.pkl").write_bytes(b"changed")
    with pytest.raises(ModelIntegrityError, match="file rf_model.pkl has 7 bytes"):
        store.resign(1)
    assert store.read_info(1)["signature"]["key_id"] != store.signer.key_id


def test_after_a_rotation_sets_signed_again_load_without_the_old_key(tmp_path):
    ModelStore(tmp_path / "models", signer=Signer(["old key"])).save(1, FakeModelSet(1), {})
    rotating = ModelStore(tmp_path / "models", signer=Signer(["new key", "old key"]))
    assert rotating.resign(1) is True
    assert sorted(p.name for p in (rotating.root / "1").iterdir()) == sorted([*FILES, INFO_FILE])  # no draft left
    assert ModelStore(tmp_path / "models", signer=Signer(["new key"])).load(1, Loader())[0] == 1
