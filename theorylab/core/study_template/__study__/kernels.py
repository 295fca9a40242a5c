"""Numba hot loops: arrays in, arrays out, no randomness drawn here (the model passes the draws)."""

import numpy as np
from numba import njit


@njit(cache=True)
def running_means(x: np.ndarray, t: float, checkpoints: np.ndarray) -> np.ndarray:
    """Mean of cos(t x[:n]) for every n in ``checkpoints`` (increasing), in one pass over ``x``."""
    out = np.empty(checkpoints.size)
    total = 0.0
    k = 0
    for i in range(checkpoints[-1]):
        total += np.cos(t * x[i])
        if i + 1 == checkpoints[k]:
            out[k] = total / (i + 1)
            k += 1
    return out
