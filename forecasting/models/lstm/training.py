"""Training of the NumPy LSTM network: mean squared error, Adam, early stopping.

Mirrors what ``model.fit(..., shuffle=True)`` with Keras's Adam and
``EarlyStopping(restore_best_weights=True)`` does, minus what this network never
needs (metrics, callbacks, distribution).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from forecasting.models.lstm.network import LSTMNetwork


@dataclass
class Adam:
    """Adam as Keras defines it (learning rate 1e-3, beta 0.9 / 0.999, epsilon 1e-7).

    The moments are kept with the model so that more epochs continue where the last
    ones stopped.
    """

    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    iterations: int = 0
    moments: list[np.ndarray] = field(default_factory=list, repr=False)
    velocities: list[np.ndarray] = field(default_factory=list, repr=False)

    def step(self, weights: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update `weights` in place from their gradients `grads`."""
        if not self.moments:
            self.moments = [np.zeros_like(w) for w in weights]
            self.velocities = [np.zeros_like(w) for w in weights]
        self.iterations += 1
        # A Python float, so that the float32 weights stay float32.
        alpha = float(self.learning_rate * np.sqrt(1 - self.beta_2**self.iterations) / (1 - self.beta_1**self.iterations))
        for weight, grad, m, v in zip(weights, grads, self.moments, self.velocities):
            m += (grad - m) * (1 - self.beta_1)
            v += (grad * grad - v) * (1 - self.beta_2)
            weight -= alpha * m / (np.sqrt(v) + self.epsilon)


def mse(network: LSTMNetwork, x: np.ndarray, y: np.ndarray) -> float:
    """Return the mean squared error of `network` on windows `x` and targets `y`."""
    return float(np.mean((network.predict(x) - y) ** 2))


def train(
    network: LSTMNetwork,
    optimizer: Adam,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int | None = None,
) -> int:
    """Train `network` in place on shuffled mini-batches and return the epochs run.

    Parameters
    ----------
    network, optimizer : LSTMNetwork, Adam
        Updated in place.
    x, y : numpy.ndarray
        Windows (n, window, channels) and their next-day targets (n,).
    epochs, batch_size : int
        Most epochs to run; windows per update.
    rng : numpy.random.Generator
        Shuffles the windows every epoch.
    validation : tuple of numpy.ndarray, optional
        Held-out windows and targets that early stopping watches; without them it
        watches the epoch's mean training loss.
    patience : int, optional
        Epochs without improvement before stopping; the best epoch's weights are kept.
        None trains every epoch.
    """
    best_loss, best_weights, waited, epoch = np.inf, None, 0, 0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            predictions, cache = network.forward(x[batch])
            error = predictions - y[batch]
            losses.append(float(np.mean(error**2)) * len(batch))
            optimizer.step(network.weights, network.gradients(cache, 2.0 * error / len(batch)))
        if patience is None:
            continue
        loss = mse(network, *validation) if validation is not None else sum(losses) / len(x)
        if loss < best_loss:
            best_loss, best_weights, waited = loss, [w.copy() for w in network.weights], 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best_weights is not None:
        network.weights = best_weights
    return epoch
