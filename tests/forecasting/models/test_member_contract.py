"""Every member follows forecasting.models.member's contract; one test per clause, over every member."""

import inspect
import json
import pickle

import numpy as np
import pytest

from forecasting.errors import ModelIntegrityError, UnknownFormatError
from forecasting.models.lstm.model import LSTMModel
from forecasting.models.member import Member, NotFittedError
from forecasting.models.model_set import ALL_MEMBERS

# The set's members (those a demand shape adds too), and the network the LSTM member wraps (a member of its own right).
CLASSES = [*ALL_MEMBERS.values(), LSTMModel]


@pytest.fixture(scope="module", params=CLASSES, ids=lambda cls: cls.__name__)
def member_class(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(member_class, small_params, history):
    return member_class(small_params).fit(history)


def init_parameters(member_class):
    return [name for name in inspect.signature(member_class.__init__).parameters if name != "self"]


def test_every_member_is_a_member_and_names_its_files(member_class):
    assert issubclass(member_class, Member)
    assert member_class.FILES and len(set(member_class.FILES)) == len(member_class.FILES)


def test_init_stores_its_parameters_and_nothing_else(member_class, small_params):
    model = member_class(small_params)

    assert sorted(vars(model)) == sorted(init_parameters(member_class))
    assert model.params is small_params


def test_fit_returns_self_and_keeps_its_parameters(member_class, small_params, short_history):
    model = member_class(small_params)
    parameters = dict(vars(model))

    assert model.fit(short_history) is model
    assert all(getattr(model, name) is value for name, value in parameters.items())


def test_learned_attributes_end_in_an_underscore(fitted, member_class):
    learned = set(vars(fitted)) - set(init_parameters(member_class))
    public = {name for name in learned if not name.startswith("_")}  # private names are caches

    assert public and all(name.endswith("_") for name in public), sorted(public)


def test_predict_and_save_before_fit_are_clear_errors(member_class, small_params, history, tmp_path):
    model = member_class(small_params)

    with pytest.raises(NotFittedError, match=f"{member_class.__name__} is not fitted: call fit"):
        model.predict(history, 5)
    with pytest.raises(NotFittedError, match="is not fitted"):
        model.save(tmp_path)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("horizon", [0, -3])
def test_horizon_must_be_positive(fitted, history, horizon):
    with pytest.raises(ValueError, match="horizon must be at least 1"):
        fitted.predict(history, horizon)


def test_predict_gives_one_finite_non_negative_value_per_day(fitted, history):
    forecast = fitted.predict(history, 30)

    assert forecast.shape == (30,)
    assert np.isfinite(forecast).all() and (forecast >= 0).all()


def test_save_writes_exactly_its_files(fitted, member_class, tmp_path):
    fitted.save(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(member_class.FILES)


def test_save_and_load_give_identical_forecasts(fitted, member_class, small_params, history, tmp_path):
    fitted.save(tmp_path)

    loaded = member_class.load(tmp_path, small_params)

    assert type(loaded) is member_class and loaded.params is small_params
    assert all(name.endswith("_") for name in set(vars(loaded)) - set(init_parameters(member_class)))
    np.testing.assert_array_equal(loaded.predict(history, 30), fitted.predict(history, 30))


@pytest.mark.parametrize(("payload", "named"), [
    ({"format_version": 99}, "has format version 99"),
    ({"something": "else"}, "records no format version"),
])
def test_load_refuses_an_unknown_format_naming_the_file_and_version(fitted, member_class, tmp_path, payload, named):
    fitted.save(tmp_path)
    versioned = [name for name in member_class.FILES if name.endswith((".pkl", ".json"))]
    for name in versioned:  # in the encoding the member writes: JSON, or the forest's pickle
        (tmp_path / name).write_bytes(json.dumps(payload).encode() if _is_json(tmp_path / name) else pickle.dumps(payload))

    with pytest.raises(UnknownFormatError, match=f"{versioned[0]} {named}, an unknown format") as refused:
        member_class.load(tmp_path)
    # An unreadable set is retrained, as one that fails its checksums is.
    assert isinstance(refused.value, ModelIntegrityError) and isinstance(refused.value, ValueError)


def _is_json(path):
    try:
        json.loads(path.read_bytes())
    except ValueError:
        return False
    return True


def test_same_seed_same_forecast(member_class, small_params, short_history):
    first = member_class(small_params).fit(short_history).predict(short_history, 15)
    again = member_class(small_params).fit(short_history).predict(short_history, 15)

    np.testing.assert_array_equal(first, again)
