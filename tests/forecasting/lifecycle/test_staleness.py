import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy
import pandas
import pytest

from forecasting.lifecycle.staleness import MODEL_SET_VERSION, library_versions, stale_reason
from tests import services

NOW = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)
VERSIONS = {"numpy": "2.0.0", "pandas": "2.2.0", "prophet": "1.1.5"}
WEEK = timedelta(days=7)


def info(**overrides):
    base = {"trained_at": (NOW - timedelta(days=1)).isoformat(), "data": {"fingerprint": "abc"},
            "versions": dict(VERSIONS), "model_set_version": MODEL_SET_VERSION}
    base.update(overrides)
    return base


def reason(model_info, **kwargs):
    args = {"fingerprint": "abc", "versions": VERSIONS, "now": NOW, "max_age": WEEK} | kwargs
    return stale_reason(model_info, **args)


def test_library_versions_match_the_installed_ones():
    versions = library_versions()
    assert versions["numpy"] == numpy.__version__ and versions["pandas"] == pandas.__version__
    assert set(versions) <= {"prophet", "scikit-learn", "scipy", "numpy", "pandas"}


def test_library_versions_import_nothing_heavy():
    code = ("import sys; from forecasting.lifecycle.staleness import library_versions; v = library_versions(); "
            "print(sorted(m for m in ('tensorflow', 'prophet', 'sklearn', 'keras') if m in sys.modules))")
    root = services.ROOT
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fresh_set():
    assert reason(info()) is None
    assert reason(info(), now=NOW.replace(tzinfo=None)) is None  # naive now means UTC


@pytest.mark.parametrize(
    ("model_info", "kwargs", "expected"),
    [
        (None, {}, "missing"),
        (info(), {"fingerprint": "changed"}, "data_changed"),
        (info(data={}), {}, "data_changed"),
        # Sets of the previous models record no version: they are retrained.
        ({k: v for k, v in info().items() if k != "model_set_version"}, {}, "model_set_version"),
        (info(model_set_version=MODEL_SET_VERSION + 1), {}, "model_set_version"),
        (info(model_set_version=1, versions={}), {}, "model_set_version"),
        (info(versions={**VERSIONS, "numpy": "1.26.4"}), {}, "library_versions"),
        (info(versions={"numpy": "2.0.0", "pandas": "2.2.0"}), {}, "library_versions"),  # prophet not recorded
        (info(), {"versions": {**VERSIONS, "tensorflow": "2.16.1"}}, "library_versions"),
        (info(trained_at=(NOW - timedelta(days=8)).isoformat()), {}, "age"),
        (info(trained_at=(NOW - WEEK).isoformat()), {}, "age"),
        (info(trained_at="2024-06-01T00:00:00"), {}, "age"),  # naive trained_at means UTC
        (info(trained_at="yesterday"), {}, "age"),
        ({k: v for k, v in info().items() if k != "trained_at"}, {}, "age"),
        # Data changes win over age: the more useful reason to show.
        (info(trained_at=(NOW - timedelta(days=30)).isoformat()), {"fingerprint": "new"}, "data_changed"),
    ],
)
def test_stale_reasons(model_info, kwargs, expected):
    assert reason(model_info, **kwargs) == expected


def test_top_level_fingerprint_is_accepted():
    legacy = {k: v for k, v in info().items() if k != "data"} | {"fingerprint": "abc"}
    assert reason(legacy) is None
