"""The LSTM's network in NumPy: LSTM, LSTM, Dense(relu), Dense(relu), Dense(1).

The layers compute exactly what Keras's ``LSTM`` (tanh, sigmoid gates in the order
input, forget, cell, output, unit forget bias) and ``Dense`` layers compute, with the
weights in Keras's shapes and order, so ``lstm_model.h5`` stays a Keras file
(:mod:`forecasting.models.lstm.keras_file`). Running the network in NumPy keeps TensorFlow out of
the workers: importing it alone costs about 3 s and 600 MB per process, more than a
whole training of this small network.

Speed comes from doing the sequence-wide work as one matrix product per layer: the
input projections of every time step before the loop and the kernel gradients after
it; only the recurrent product stays inside the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

DTYPE = np.float32


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(DTYPE)


def _orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))
    return (q.T if rows < cols else q).astype(DTYPE)


def _lstm_bias(units: int) -> np.ndarray:
    bias = np.zeros(4 * units, dtype=DTYPE)
    bias[units : 2 * units] = 1.0  # unit forget bias
    return bias


@dataclass
class _LSTMCache:
    inputs: np.ndarray  # (B, T, C)
    gates: np.ndarray  # (B, T, 4u): activated i, f, g, o
    cells: np.ndarray  # (B, T, u)
    cell_tanh: np.ndarray  # (B, T, u)
    hidden: np.ndarray  # (B, T, u)


def _lstm_forward(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> _LSTMCache:
    batch, steps, _ = x.shape
    units = recurrent.shape[0]
    projected = (x.reshape(batch * steps, -1) @ kernel + bias).reshape(batch, steps, 4 * units)
    gates = np.empty_like(projected)
    cells = np.empty((batch, steps, units), dtype=x.dtype)
    cell_tanh, hidden = np.empty_like(cells), np.empty_like(cells)
    h = np.zeros((batch, units), dtype=x.dtype)
    c = np.zeros((batch, units), dtype=x.dtype)
    cell_gate = slice(2 * units, 3 * units)
    for t in range(steps):
        z = projected[:, t] + h @ recurrent
        a = expit(z)
        a[:, cell_gate] = np.tanh(z[:, cell_gate])
        c = a[:, units : 2 * units] * c + a[:, :units] * a[:, cell_gate]
        tc = np.tanh(c)
        h = a[:, 3 * units :] * tc
        gates[:, t], cells[:, t], cell_tanh[:, t], hidden[:, t] = a, c, tc, h
    return _LSTMCache(x, gates, cells, cell_tanh, hidden)


def _lstm_backward(
    cache: _LSTMCache, d_hidden: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the gradients (d_inputs, d_kernel, d_recurrent, d_bias) of one LSTM layer."""
    batch, steps, units = cache.hidden.shape
    d_z = np.empty_like(cache.gates)
    dh_next = np.zeros((batch, units), dtype=d_hidden.dtype)
    dc_next = np.zeros_like(dh_next)
    recurrent_t = recurrent.T
    for t in reversed(range(steps)):
        a = cache.gates[:, t]
        i, f, g, o = a[:, :units], a[:, units : 2 * units], a[:, 2 * units : 3 * units], a[:, 3 * units :]
        tc = cache.cell_tanh[:, t]
        c_prev = cache.cells[:, t - 1] if t else np.zeros_like(tc)
        dh = d_hidden[:, t] + dh_next
        dc = dc_next + dh * o * (1.0 - tc * tc)
        dz = d_z[:, t]
        dz[:, :units] = dc * g * i * (1.0 - i)
        dz[:, units : 2 * units] = dc * c_prev * f * (1.0 - f)
        dz[:, 2 * units : 3 * units] = dc * i * (1.0 - g * g)
        dz[:, 3 * units :] = dh * tc * o * (1.0 - o)
        dc_next = dc * f
        dh_next = dz @ recurrent_t
    flat_dz = d_z.reshape(batch * steps, -1)
    previous = np.concatenate([np.zeros((batch, 1, units), dtype=d_hidden.dtype), cache.hidden[:, :-1]], axis=1)
    d_kernel = cache.inputs.reshape(batch * steps, -1).T @ flat_dz
    d_recurrent = previous.reshape(batch * steps, units).T @ flat_dz
    d_inputs = (flat_dz @ kernel.T).reshape(cache.inputs.shape)
    return d_inputs, d_kernel, d_recurrent, flat_dz.sum(axis=0)


@dataclass
class LSTMNetwork:
    """Weights of the network in Keras's order and shapes.

    ``weights`` holds, per layer: LSTM kernel (channels, 4u1), recurrent kernel
    (u1, 4u1), bias (4u1,); the same for the second LSTM; then kernel and bias of
    each of the three dense layers (u2 -> u3 -> u4 -> 1).
    """

    window: int
    channels: int
    weights: list[np.ndarray] = field(repr=False)

    @classmethod
    def create(cls, window: int, channels: int, units: tuple[int, ...], rng: np.random.Generator) -> LSTMNetwork:
        """Return a network initialised as Keras does (Glorot kernels, orthogonal recurrent kernels)."""
        if len(units) != 4:
            raise ValueError(f"lstm_units must give 4 layer sizes, got {units}.")
        u1, u2, u3, u4 = units
        weights = [
            _glorot(rng, channels, 4 * u1), _orthogonal(rng, u1, 4 * u1), _lstm_bias(u1),
            _glorot(rng, u1, 4 * u2), _orthogonal(rng, u2, 4 * u2), _lstm_bias(u2),
            _glorot(rng, u2, u3), np.zeros(u3, DTYPE),
            _glorot(rng, u3, u4), np.zeros(u4, DTYPE),
            _glorot(rng, u4, 1), np.zeros(1, DTYPE),
        ]  # fmt: skip
        return cls(window, channels, weights)

    @property
    def units(self) -> tuple[int, ...]:
        """The four layer sizes."""
        return (self.weights[1].shape[0], self.weights[4].shape[0], self.weights[6].shape[1], self.weights[8].shape[1])

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Return the predictions (batch,) for windows `x` (batch, window, channels) and what backward needs."""
        w = self.weights
        first = _lstm_forward(np.asarray(x, dtype=w[0].dtype), w[0], w[1], w[2])
        second = _lstm_forward(first.hidden, w[3], w[4], w[5])
        last = second.hidden[:, -1]
        dense1, dense2, out = _head(w, last)
        return out[..., 0], (first, second, last, dense1, dense2)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Return the predictions (batch,) for windows `x` (batch, window, channels)."""
        return self.forward(x)[0]

    def gradients(self, cache: tuple, d_out: np.ndarray) -> list[np.ndarray]:
        """Return the gradients of every weight given d(loss)/d(prediction) `d_out` (batch,)."""
        w = self.weights
        first, second, last, dense1, dense2 = cache
        d_out = d_out.astype(w[0].dtype).reshape(-1, 1)
        grads: list[np.ndarray] = [np.empty(0)] * len(w)
        grads[10], grads[11] = dense2.T @ d_out, d_out.sum(axis=0)
        d = (d_out @ w[10].T) * (dense2 > 0)
        grads[8], grads[9] = dense1.T @ d, d.sum(axis=0)
        d = (d @ w[8].T) * (dense1 > 0)
        grads[6], grads[7] = last.T @ d, d.sum(axis=0)
        d_hidden = np.zeros_like(second.hidden)
        d_hidden[:, -1] = d @ w[6].T
        d_first, grads[3], grads[4], grads[5] = _lstm_backward(second, d_hidden, w[3], w[4])
        _, grads[0], grads[1], grads[2] = _lstm_backward(first, d_first, w[0], w[1])
        return grads

    def forecast(self, first: np.ndarray, future: np.ndarray) -> np.ndarray:
        """Feed the network its own predictions for ``len(future)`` steps.

        The same arithmetic as :meth:`predict` on each window, without what training
        keeps for the backward pass, and each day's input projection computed once.

        Parameters
        ----------
        first : numpy.ndarray
            The last input window, shape (window, channels).
        future : numpy.ndarray
            The calendar channels of the forecast days, shape (steps, channels - 1).

        Returns
        -------
        numpy.ndarray
            The scaled predictions, shape (steps,).
        """
        w = self.weights
        projected = np.asarray(first, dtype=w[0].dtype) @ w[0] + w[2]
        out = np.empty(len(future), dtype=w[0].dtype)
        for step, calendar in enumerate(future):
            first_hidden = _sequence(projected, w[1])
            last = _sequence(first_hidden @ w[3] + w[5], w[4])[-1]
            out[step] = value = _head(w, last)[2][0]
            day = np.concatenate([[value], calendar]).astype(w[0].dtype)
            projected = np.vstack([projected[1:], day @ w[0] + w[2]])
        return out


def _head(w: list[np.ndarray], last: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the two relu layers' outputs and the prediction for the last hidden state(s) `last`."""
    dense1 = np.maximum(last @ w[6] + w[7], 0)
    dense2 = np.maximum(dense1 @ w[8] + w[9], 0)
    return dense1, dense2, dense2 @ w[10] + w[11]


def _sequence(projected: np.ndarray, recurrent: np.ndarray) -> np.ndarray:
    """Return the hidden states (steps, units) of one LSTM layer over one sequence of input projections."""
    units = recurrent.shape[0]
    h = np.zeros(units, dtype=projected.dtype)
    c = np.zeros(units, dtype=projected.dtype)
    hidden = np.empty((len(projected), units), dtype=projected.dtype)
    for t in range(len(projected)):
        z = projected[t] + h @ recurrent
        a = expit(z)
        c = a[units : 2 * units] * c + a[:units] * np.tanh(z[2 * units : 3 * units])
        h = hidden[t] = a[3 * units :] * np.tanh(c)
    return hidden
