"""Paired statistics over seeds: runs of a profile with the same seed share the encoder's
initialisation and every seed-driven batch and augmentation (jepa_torus.train), so two
configurations are compared seed by seed, not as two independent samples.

    d = paired_difference({0: 0.81, 1: 0.82, 2: 0.80}, {0: 0.79, 1: 0.81, 2: 0.80})
    d.mean, d.lo, d.hi, d.n          # mean of a - b over the shared seeds and its 95 % t interval
    verdict(d)                       # "above" / "below" / "level with" ("nominally ..." with one pair)

Pure functions of numbers: no run folders, no files.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from scipy import stats as _sps

CONFIDENCE = 0.95   # the two-sided level of every interval here


@dataclass(frozen=True)
class PairedDifference:
    """a - b over the seeds both sides have.

    mean = (1/n) sum_i d_i with d_i = a[s_i] - b[s_i];  sd = sqrt(sum_i (d_i - mean)^2 / (n - 1));
    [lo, hi] = mean -/+ t_{(1+confidence)/2, n-1} * sd / sqrt(n)  (NaN for n < 2: no interval)."""
    mean: float
    sd: float
    n: int
    lo: float
    hi: float
    seeds: tuple
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        return self.n >= 2


def t_quantile(n: int, confidence: float = CONFIDENCE) -> float:
    """t_{(1+confidence)/2, n-1}: the two-sided critical value for n pairs (n-1 degrees of
    freedom), scipy.stats.t.ppf; e.g. 4.302652729911275 for n = 3 at 95 %."""
    if n < 2:
        raise ValueError(f"a t interval needs at least 2 pairs, got {n}")
    return float(_sps.t.ppf(0.5 + confidence / 2, n - 1))


def paired_difference(a: dict, b: dict, confidence: float = CONFIDENCE) -> PairedDifference:
    """The paired difference a - b over the seeds (keys) in both mappings, seed -> value.

    d_i = a[s] - b[s] for each shared seed s (sorted); mean = mean(d); sd = sample standard
    deviation of d (n - 1 in the denominator; NaN for n = 1); the interval is
    mean +/- t_{(1+confidence)/2, n-1} * sd / sqrt(n), the paired (one-sample) t interval,
    (NaN, NaN) for n = 1.  Seeds in only one mapping are left out.  No shared seed: ValueError."""
    seeds = tuple(sorted(set(a) & set(b)))
    if not seeds:
        raise ValueError(f"no seed in common (a has {sorted(a)}, b has {sorted(b)})")
    d = [float(a[s]) - float(b[s]) for s in seeds]
    n = len(d)
    mean = statistics.fmean(d)
    if n < 2:
        return PairedDifference(mean, math.nan, n, math.nan, math.nan, seeds, confidence)
    sd = statistics.stdev(d)
    half = t_quantile(n, confidence) * sd / math.sqrt(n)
    return PairedDifference(mean, sd, n, mean - half, mean + half, seeds, confidence)


def verdict(diff: PairedDifference, resolution: float = 0.0) -> str:
    """"above" when the whole interval is > 0 (lo > 0), "below" when it is < 0 (hi < 0), else
    "level with".  With fewer than 2 pairs there is no interval and the sign of the mean is
    all there is: "nominally above" / "nominally below" / "nominally level with" (mean = 0).
    A mean difference within ``resolution`` (|mean| <= resolution, e.g. half a unit of the
    printed last digit) is "level with" whatever the interval: seeds that all print the same
    number differ by rounding, not by a result."""
    if diff.n < 2:
        if abs(diff.mean) <= resolution:
            return "nominally level with"
        return "nominally above" if diff.mean > 0 else "nominally below"
    if abs(diff.mean) <= resolution:
        return "level with"
    if diff.lo > 0:
        return "above"
    if diff.hi < 0:
        return "below"
    return "level with"
