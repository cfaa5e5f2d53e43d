"""``lstm_model.h5``: the LSTM network in Keras's HDF5 model format, read and written with h5py.

The file is what ``keras_model.save("lstm_model.h5", include_optimizer=False)``
writes: the architecture as JSON in the ``model_config`` attribute and the weights
under ``model_weights/<layer>/<layer>/...``. ``keras.models.load_model(path,
compile=False)`` therefore opens it, and files that Keras wrote load here too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from forecasting.models.lstm.network import DTYPE, LSTMNetwork

MODEL_NAME = "demand_lstm"
#: The Keras release whose layout this module writes (Keras 3 reads it back).
KERAS_VERSION = "3.15.1"
#: (layer name, Keras class, weight names in the file) in the network's order.
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("lstm", "LSTM", ("lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias")),
    ("lstm_1", "LSTM", ("lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias")),
    ("dense", "Dense", ("kernel", "bias")),
    ("dense_1", "Dense", ("kernel", "bias")),
    ("dense_2", "Dense", ("kernel", "bias")),
)
_ACTIVATIONS = {"dense": "relu", "dense_1": "relu", "dense_2": "linear"}


def _tensor(name: str, shape: list[Any]) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": "float32", "keras_history": [name, 0, 0]}}


def model_config(network: LSTMNetwork) -> dict[str, Any]:
    """Return the Keras functional-model config of `network`'s architecture."""
    units = network.units
    layers: list[dict[str, Any]] = [{
        "class_name": "InputLayer", "name": "input_layer", "inbound_nodes": [],
        "config": {"batch_shape": [None, network.window, network.channels], "dtype": "float32", "name": "input_layer"},
    }]  # fmt: skip
    previous, shape = "input_layer", [None, network.window, network.channels]
    for (name, kind, _), size in zip(LAYERS, [*units, 1]):
        config: dict[str, Any] = {"name": name, "trainable": True, "dtype": "float32", "units": size}
        if kind == "LSTM":
            config.update(return_sequences=name == "lstm", activation="tanh", recurrent_activation="sigmoid",
                          unit_forget_bias=True)
            kwargs: dict[str, Any] = {"training": False, "mask": None}
        else:
            config.update(activation=_ACTIVATIONS[name])
            kwargs = {}
        layers.append({"class_name": kind, "name": name, "config": config,
                       "inbound_nodes": [{"args": [_tensor(previous, shape)], "kwargs": kwargs}]})
        previous = name
        shape = [None, network.window, size] if config.get("return_sequences") else [None, size]
    return {"class_name": "Functional", "config": {
        "name": MODEL_NAME, "trainable": True, "layers": layers,
        "input_layers": ["input_layer", 0, 0], "output_layers": [previous, 0, 0],
    }}  # fmt: skip


def save(network: LSTMNetwork, path: Path) -> None:
    """Write `network` to `path` in Keras's HDF5 format (no optimizer state)."""
    string = h5py.string_dtype()
    weights = iter(network.weights)
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = KERAS_VERSION
        handle.attrs["backend"] = "tensorflow"
        handle.attrs["model_config"] = json.dumps(model_config(network))
        group = handle.create_group("model_weights")
        group.attrs["keras_version"], group.attrs["backend"] = KERAS_VERSION, "tensorflow"
        group.attrs["layer_names"] = np.array(["input_layer"] + [name for name, _, _ in LAYERS], dtype=string)
        group.create_group("input_layer").attrs["weight_names"] = np.array([], dtype=string)
        for name, _, names in LAYERS:
            layer = group.create_group(name)
            layer.attrs["weight_names"] = np.array([f"{name}/{weight}" for weight in names], dtype=string)
            for weight in names:
                layer.create_dataset(f"{name}/{weight}", data=next(weights))
        group.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype=string)


def load(path: Path) -> LSTMNetwork:
    """Read the network that :func:`save` (or Keras) wrote to `path`.

    Raises
    ------
    ValueError
        When the file does not hold this network's five layers.
    """
    with h5py.File(path, "r") as handle:
        if "model_weights" not in handle or "model_config" not in handle.attrs:
            raise ValueError(f"{Path(path).name} is not a Keras model file.")
        config = json.loads(handle.attrs["model_config"])
        group = handle["model_weights"]
        weights = []
        for name, _, names in LAYERS:
            if name not in group:
                raise ValueError(f"{Path(path).name} has no layer {name!r}: not this service's LSTM.")
            weights.extend(np.asarray(group[name][f"{name}/{weight}"], dtype=DTYPE) for weight in names)
    inputs = config["config"]["layers"][0]["config"]
    shape = inputs.get("batch_shape") or inputs["batch_input_shape"]  # Keras 3 / Keras 2
    return LSTMNetwork(int(shape[1]), int(shape[2]), weights)
