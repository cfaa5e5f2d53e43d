"""Real model sets saved by earlier code (tests/fixtures/model_sets/README.md): read or refused by name."""

import json
import shutil
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from forecasting.errors import ModelIntegrityError, UnknownFormatError
from forecasting.lifecycle.staleness import stale_reason
from forecasting.models.model_set import MEMBERS, MODEL_SET_VERSION, ModelSet, forecast
from forecasting.store.model_store import ModelStore
from forecasting.store.signature import Signer
from tests import services
from tests.fixtures.model_sets.build import FIXTURE_SIGNING_KEY

FIXTURES = services.ROOT / "tests" / "fixtures" / "model_sets"
#: Every model set version this code loads, each with a set saved by the code that wrote it.
LOADABLE = (6,)
#: Versions this code refuses, each with a set saved by the code that wrote it.
REFUSED = (1, 2)
#: Signed sets of an older version: trusted, still never loaded.
SIGNED_REFUSED = (3, 4, 5)


def saved(version, tmp_path):
    """Return a store holding a copy of the fixture set of `version`, and its forecast.json."""
    shutil.copytree(FIXTURES / f"v{version}", tmp_path / f"v{version}")
    recorded = json.loads((tmp_path / f"v{version}" / "forecast.json").read_text())
    return ModelStore(tmp_path / f"v{version}", signer=Signer([FIXTURE_SIGNING_KEY])), recorded


def history_of(recorded):
    values = recorded["history"]["values"]
    return pd.Series(values, index=pd.date_range(recorded["history"]["start"], periods=len(values), freq="D"))


def current_reason(info):
    """Return the staleness rule's answer for `info` on its own data and libraries, a day after training."""
    trained = datetime.fromisoformat(info["trained_at"])
    return stale_reason(info, fingerprint=info["data"]["fingerprint"], versions=dict(info["versions"]),
                        now=trained + timedelta(days=1), max_age=timedelta(days=7))


def test_the_current_version_has_a_saved_fixture():
    assert MODEL_SET_VERSION in LOADABLE
    assert all((FIXTURES / f"v{version}" / "1" / "model_info.json").is_file() for version in LOADABLE)


@pytest.mark.parametrize("version", LOADABLE)
def test_a_saved_set_loads_and_forecasts_as_the_code_that_saved_it(version, tmp_path):
    store, recorded = saved(version, tmp_path)

    model_set, info = store.load(recorded["product_id"], ModelSet.load)
    frame = forecast(model_set, history_of(recorded), recorded["horizon"])

    assert info["model_set_version"] == version
    assert np.isfinite(frame.to_numpy()).all() and (frame.to_numpy() >= 0).all()
    assert list(frame.columns) == list(recorded["forecast"])
    for name, values in recorded["forecast"].items():
        np.testing.assert_allclose(frame[name].to_numpy(), values, rtol=1e-7, atol=1e-9, err_msg=name)
    assert current_reason(info) is None


@pytest.mark.parametrize("version", REFUSED)
def test_an_older_set_is_never_loaded_and_is_retrained_by_its_version(version, tmp_path):
    store, recorded = saved(version, tmp_path)
    info, problem = store.inspect(recorded["product_id"])

    assert info.get("model_set_version", 1) == version and problem == "it has no signature"
    # Sets before version 3 are unsigned: nothing of them is unpickled.
    with pytest.raises(ModelIntegrityError, match="untrusted"):
        store.load(recorded["product_id"], ModelSet.load)
    assert current_reason(info) == "model_set_version"


@pytest.mark.parametrize("version", SIGNED_REFUSED)
def test_a_signed_older_set_is_refused_by_its_version_and_retrained(version, tmp_path):
    store, recorded = saved(version, tmp_path)

    with pytest.raises(ModelIntegrityError, match=f"model set version {version}; this code reads {MODEL_SET_VERSION}"):
        store.load(recorded["product_id"], ModelSet.load)
    info, problem = store.inspect(recorded["product_id"])
    assert problem is None and current_reason(info) == "model_set_version"


@pytest.mark.parametrize(("version", "member", "named"), [
    (1, "prophet", "prophet_model.pkl is not JSON"),  # a pickle, never unpickled
    (1, "lstm", "scaler.pkl is not JSON"),
    (1, "random_forest", "rf_model.pkl has format version 1"),
    (2, "prophet", "prophet_model.pkl is not JSON"),
    (2, "lstm", "scaler.pkl is not JSON"),
    (3, "random_forest", "rf_model.pkl has format version 2"),  # no calendar columns recorded
    (5, "random_forest", "rf_model.pkl has format version 3"),  # 10 features, not 20
])
def test_each_member_refuses_its_older_file_by_name(version, member, named):
    # Read in place: a refused load writes nothing.
    with pytest.raises(UnknownFormatError, match=f"{named}, an unknown format"):
        MEMBERS[member].load(FIXTURES / f"v{version}" / "1")
