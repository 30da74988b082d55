"""A small model of a culture in a vial: logistic growth, measurement noise, a heater.

Each (unit, experiment) pair owns one :class:`Culture`, so stopping and restarting
``od_reading`` continues the same curve. Time is *simulated hours*: the simulator maps wall
seconds to hours with its ``time_scale``.
"""

from __future__ import annotations

import math
import random
import time

__all__ = ["Culture", "Heater"]


class Culture:
    """Logistic growth ``N(t) = K / (1 + (K/N0 - 1) e^{-rt})`` with multiplicative noise.

    Example::

        culture = Culture(random.Random(1))
        culture.od(0.0)  # about culture.initial_od
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        initial_od: float | None = None,
        capacity: float | None = None,
        rate_per_hour: float | None = None,
        lag_hours: float | None = None,
        noise: float = 0.01,
    ) -> None:
        self._rng = rng
        self.initial_od = initial_od if initial_od is not None else rng.uniform(0.045, 0.055)
        self.capacity = capacity if capacity is not None else rng.uniform(1.1, 1.6)
        self.rate_per_hour = rate_per_hour if rate_per_hour is not None else rng.uniform(0.25, 0.4)
        self.lag_hours = lag_hours if lag_hours is not None else rng.uniform(0.5, 1.5)
        self.noise = noise
        self._origin: float | None = None

    def age_seconds(self) -> float:
        """Wall seconds since the culture was first read (its t = 0)."""
        now = time.monotonic()
        if self._origin is None:
            self._origin = now
        return now - self._origin

    def true_od(self, hours: float) -> float:
        """The noiseless optical density after *hours* of culture."""
        growing = max(0.0, hours - self.lag_hours)
        ratio = self.capacity / self.initial_od - 1.0
        return self.capacity / (1.0 + ratio * math.exp(-self.rate_per_hour * growing))

    def od(self, hours: float) -> float:
        """One noisy reading of the optical density after *hours*."""
        return max(1e-6, self.true_od(hours) * (1.0 + self._rng.gauss(0.0, self.noise)))

    def growth_rate(self, hours: float) -> float:
        """The specific growth rate ``d ln N / dt`` (h⁻¹) after *hours*, with a little noise."""
        if hours < self.lag_hours:
            rate = 0.0
        else:
            rate = self.rate_per_hour * (1.0 - self.true_od(hours) / self.capacity)
        return rate + self._rng.gauss(0.0, 0.005)

    def normalized_od(self, hours: float) -> float:
        """The filtered OD relative to the first reading, as ``growth_rate_calculating`` reports."""
        return self.true_od(hours) / self.initial_od * (1.0 + self._rng.gauss(0.0, 0.002))


class Heater:
    """A vial's temperature moving towards a target (or ambient) with noise."""

    def __init__(self, rng: random.Random, ambient: float = 22.5) -> None:
        self._rng = rng
        self.ambient = ambient
        self.temperature = ambient + rng.uniform(-0.5, 0.5)

    def step(self, target: float | None, hours: float) -> float:
        """Advance by *hours* towards *target* (None: ambient); return the new reading."""
        goal = self.ambient if target is None else target
        approach = 1.0 - math.exp(-max(hours, 0.0) / 0.25)
        self.temperature += (goal - self.temperature) * approach
        return self.temperature + self._rng.gauss(0.0, 0.05)

    def duty_cycle(self, target: float | None) -> float:
        """A plausible heater duty cycle (%) for the current gap to *target*."""
        if target is None:
            return 0.0
        return round(min(100.0, max(0.0, (target - self.temperature) * 2.0)), 2)
