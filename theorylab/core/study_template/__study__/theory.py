"""Closed forms for X ~ N(0, 1): the characteristic function gives E[cos(t X)] = exp(-t^2/2), and
cos^2 = (1 + cos 2.)/2 gives Var[cos(t X)] = (1 + exp(-2 t^2))/2 - exp(-t^2)."""

import numpy as np


def expectation(t: float) -> float:
    return float(np.exp(-t**2 / 2))


def variance(t: float) -> float:
    return float((1 + np.exp(-2 * t**2)) / 2 - np.exp(-t**2))
