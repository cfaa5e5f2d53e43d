"""manage.py models ls / show / rm / export / import, on the folder store and on S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from config.settings import ROOT, load_settings, make_model_store
from forecasting.store.signature import Signer
from tests import services
from tests.forecasting.store.test_model_store import FakeModelSet, Loader
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY

KEY, OTHER_KEY = "production key of the manage tests", "key of the environment sets come from"


@pytest.fixture(params=["folder", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """Return the environment of manage.py for this backend (each test its own folder or prefix)."""
    env = {"MODEL_SIGNING_KEYS": KEY, "FORECASTING_MODELS_PATH": str(tmp_path / "models"),
           "DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}"),
           "MODEL_STORE_CACHE_DIR": str(tmp_path / "cache")}
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        env.update(MODEL_STORE_URL=f"s3://{s3.bucket}/{s3.new_prefix()}", S3_ENDPOINT_URL=s3.endpoint_url,
                   AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_DEFAULT_REGION=REGION)
    return env


def store_of(env: dict[str, str], *keys: str):
    return make_model_store(load_settings(environ={**env, "MODEL_SIGNING_KEYS": ",".join(keys or [KEY])},
                                          dotenv=None))


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def test_ls_show_rm(backend):
    store_of(backend).save(1, FakeModelSet(1), {"trained_at": "2024-06-30T00:00:00+00:00"})
    store_of(backend, OTHER_KEY).save(2, FakeModelSet(2), {})
    listed = manage(backend, "models", "ls")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("2 model sets in ")
    assert lines[1].split()[:3] == ["1", "ok", "2024-06-30T00:00:00+00:00"]
    assert lines[2].split()[:2] == ["2", "untrusted"]

    shown = manage(backend, "models", "show", "2")
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["product_id"] == 2 and info["trusted"] is False and "key" in info["untrusted_reason"]

    assert manage(backend, "models", "rm", "1").returncode == 0
    gone = manage(backend, "models", "rm", "1")
    assert gone.returncode == 1 and "No model set for product 1" in gone.stderr
    assert manage(backend, "models", "show", "1").returncode == 1
    assert [e["product_id"] for e in store_of(backend).list_infos()] == [2]


def test_export_then_import_elsewhere_signs_with_the_current_key(backend, tmp_path):
    exporting = {**backend, "MODEL_SIGNING_KEYS": OTHER_KEY}
    saved = store_of(exporting, OTHER_KEY).save(7, FakeModelSet(7), {"trained_at": "t"})
    archive = tmp_path / "set-7.tar.gz"
    done = manage(exporting, "models", "export", "7", str(archive))
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == sorted([*saved["files"], "model_info.json"])

    here = {**backend, "FORECASTING_MODELS_PATH": str(tmp_path / "elsewhere"),
            "MODEL_STORE_CACHE_DIR": str(tmp_path / "cache-elsewhere")}
    if "MODEL_STORE_URL" in here:
        here["MODEL_STORE_URL"] += "-elsewhere"
    refused = manage(here, "models", "import", str(archive))
    assert refused.returncode == 1 and "untrusted" in refused.stderr
    assert store_of(here).read_info(7) is None

    keys = tmp_path / "other.keys"
    keys.write_text(OTHER_KEY + "\n")
    imported = manage(here, "models", "import", str(archive), "--source-key-file", str(keys))
    assert imported.returncode == 0, imported.stderr
    store = store_of(here)
    info = store.read_info(7)
    assert info["signature"]["key_id"] == Signer([KEY]).key_id and info["set_id"] != saved["set_id"]
    assert info["imported_from"]["set_id"] == saved["set_id"] and info["trained_at"] == "t"
    assert store.load(7, Loader())[0] == 7


def test_import_refuses_an_archive_whose_file_does_not_match(backend, tmp_path):
    store_of(backend).save(3, FakeModelSet(3), {})
    archive = tmp_path / "set-3.tar.gz"
    assert manage(backend, "models", "export", "3", str(archive)).returncode == 0
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (unpacked / "rf_model.pkl").write_bytes(b"3:evil".ljust(2000, b"."))
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(unpacked.iterdir()):
            tar.add(path, arcname=path.name)
    store_of(backend).delete(3)
    refused = manage(backend, "models", "import", str(archive))
    assert refused.returncode == 1 and "rf_model.pkl does not match its checksum" in refused.stderr
    assert store_of(backend).read_info(3) is None


def test_export_of_a_missing_set_fails(backend, tmp_path):
    done = manage(backend, "models", "export", "9", str(tmp_path / "x.tar.gz"))
    assert done.returncode == 1 and not (tmp_path / "x.tar.gz").exists()
