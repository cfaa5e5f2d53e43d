"""The manage.py commands that touch model sets, run as an operator would."""

import os
import subprocess
import sys

from config.settings import ROOT
from forecasting.store.model_store import ModelStore
from forecasting.store.signature import Signer
from tests import services
from tests.forecasting.store.test_model_store import FakeModelSet, Loader

KEY, STAGING_KEY = "production key of the manage tests", "staging key of the manage tests"


def manage(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODEL_SIGNING_KEYS": KEY, "FORECASTING_MODELS_PATH": str(tmp_path / "models"),
           "DATABASE_URL": services.migrated(f"sqlite:///{tmp_path / 'sales.db'}")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_models_resign_signs_sets_copied_from_another_environment(tmp_path):
    ModelStore(tmp_path / "models", signer=Signer([STAGING_KEY])).save(1, FakeModelSet(1), {})
    ModelStore(tmp_path / "models", signer=Signer([KEY])).save(2, FakeModelSet(2), {})
    keys = tmp_path / "staging.keys"
    keys.write_text(f"{STAGING_KEY}\n")

    refused = manage(tmp_path, "models", "resign", "--all")
    assert refused.returncode == 1
    assert "product 1: not signed: Model set of product 1 is untrusted" in refused.stdout
    assert "product 2: already signed with the current key" in refused.stdout

    done = manage(tmp_path, "models", "resign", "1", "--source-key-file", str(keys))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "product 1: signed again"
    assert ModelStore(tmp_path / "models", signer=Signer([KEY])).load(1, Loader())[0] == 1


def test_models_resign_needs_ids_or_all(tmp_path):
    done = manage(tmp_path, "models", "resign")
    assert done.returncode == 2 and "Name product ids or pass --all" in done.stderr
