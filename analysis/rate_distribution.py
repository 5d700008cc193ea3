r"""The distribution of mean firing rates across neurons, and its log-normal fit.

Cortical firing rates are heavy-tailed, close to log-normal: most cells fire
little and a few fire a lot (Buzsaki & Mizuseki 2014). For rates
:math:`r_1, \dots, r_N > 0`, the log-normal maximum-likelihood fit is

.. math::
    \hat\mu = \frac{1}{N} \sum_i \ln r_i, \qquad
    \hat\sigma = \sqrt{\frac{1}{N} \sum_i (\ln r_i - \hat\mu)^2},

(``scipy.stats.lognorm.fit`` with the location fixed at 0 returns exactly
these), i.e. median rate :math:`e^{\hat\mu}` and mean
:math:`e^{\hat\mu + \hat\sigma^2/2}`. Two consequences used as checks of the
shape (both closed-form for a log-normal):

- the fraction of neurons firing below the population mean rate is
  :math:`\Phi(\sigma / 2)` (> 1/2 for any sigma > 0: "most cells fire little";
  0.69 at sigma = 1, 0.5 for a symmetric distribution);
- the skewness of the rates is :math:`(e^{\sigma^2} + 2)\sqrt{e^{\sigma^2} - 1}`
  (6.18 at sigma = 1).

Goodness of fit: the Kolmogorov-Smirnov distance D between the rates and the
fitted log-normal, compared with the same distance for a fitted normal
distribution (the log-normal "fits better" when its D is the smaller). The
KS p-value is reported but is optimistic, because the parameters were fitted
to the same data (Lilliefors 1967).

Units: rates in spikes/s (any unit works; sigma and the fractions are
unit-free, mu shifts by the log of the unit change).

References
----------
Buzsaki, G. & Mizuseki, K. (2014). The log-dynamic brain: how skewed distributions affect
network operations. Nat Rev Neurosci 15, 264-278.
Lilliefors, H. W. (1967). On the Kolmogorov-Smirnov test for normality with mean and variance
unknown. J Am Stat Assoc 62, 399-402.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats


def firing_rates(counts, duration_s: float) -> np.ndarray:
    """Mean firing rate of each neuron from spike counts.

    Parameters
    ----------
    counts : array_like, shape (n_stimuli, n_neurons)
        Spike counts of each neuron in a window of ``duration_s`` seconds per stimulus.
    duration_s : float
        Length of the counting window, seconds (> 0).

    Returns
    -------
    ndarray, shape (n_neurons,)
        Rates in spikes/s, averaged over the stimuli.

    Examples
    --------
    >>> firing_rates([[1, 0], [3, 0]], duration_s=0.5)
    array([4., 0.])
    """
    if not duration_s > 0:
        raise ValueError(f"the counting window must be positive, got {duration_s} s")
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"counts must be (n_stimuli, n_neurons), got shape {counts.shape}")
    return counts.mean(axis=0) / duration_s


@dataclasses.dataclass(frozen=True)
class LogNormalFit:
    """Log-normal fit of a rate distribution (see the module notes).

    Attributes
    ----------
    mu, sigma : float
        Mean and standard deviation of ln(rate) over the neurons with a positive rate
        (sigma dimensionless; mu in ln of the rates' unit).
    n_positive, n_silent : int
        Neurons used in the fit (rate > 0) and left out (rate 0: ln is undefined).
    ks_statistic, ks_pvalue : float
        Kolmogorov-Smirnov distance of the positive rates to the fitted log-normal, and
        its (optimistic) p-value.
    normal_ks_statistic : float
        The same distance to a normal distribution fitted to the positive rates.
    fraction_below_mean : float
        Fraction of all neurons (silent ones included) whose rate is below the mean rate.
    skewness : float
        Sample skewness of all rates (biased estimator, ``scipy.stats.skew``).
    """

    mu: float
    sigma: float
    n_positive: int
    n_silent: int
    ks_statistic: float
    ks_pvalue: float
    normal_ks_statistic: float
    fraction_below_mean: float
    skewness: float

    @property
    def median(self) -> float:
        """Median of the fitted log-normal, exp(mu)."""
        return float(np.exp(self.mu))

    @property
    def lognormal_fits_better(self) -> bool:
        """True if the log-normal's KS distance is below the normal distribution's."""
        return bool(self.ks_statistic < self.normal_ks_statistic)

    def pdf(self, rates) -> np.ndarray:
        """Density of the fitted log-normal at ``rates`` (per unit rate)."""
        return stats.lognorm.pdf(np.asarray(rates, dtype=np.float64), self.sigma, 0.0,
                                 np.exp(self.mu))


def fit_lognormal(rates) -> LogNormalFit:
    """Fit a log-normal distribution to firing rates across neurons.

    Parameters
    ----------
    rates : array_like, shape (n_neurons,)
        Mean rates (spikes/s), non-negative; NaNs are ignored.

    Returns
    -------
    LogNormalFit
        mu and sigma by maximum likelihood (``scipy.stats.lognorm.fit`` with ``floc=0``) on
        the positive rates; all fields NaN when fewer than 3 rates are positive.

    Raises
    ------
    ValueError
        If a rate is negative.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fit = fit_lognormal(np.exp(rng.normal(1.0, 0.8, 20000)))
    >>> round(fit.mu, 2), round(fit.sigma, 2)
    (1.0, 0.8)
    >>> abs(fit.fraction_below_mean - 0.6554) < 0.01      # Phi(sigma / 2) = Phi(0.4)
    True
    """
    r = np.asarray(rates, dtype=np.float64).ravel()
    r = r[np.isfinite(r)]
    if np.any(r < 0):
        raise ValueError(f"rates must be non-negative, got a minimum of {r.min():g}")
    positive = r[r > 0]
    nan = float("nan")
    if positive.size < 3:
        return LogNormalFit(nan, nan, int(positive.size), int(r.size - positive.size), nan, nan,
                            nan, nan, nan)
    sigma, _, scale = stats.lognorm.fit(positive, floc=0.0)
    mu = float(np.log(scale))
    ks = stats.kstest(positive, "lognorm", args=(sigma, 0.0, scale))
    normal = stats.kstest(positive, "norm", args=(positive.mean(), positive.std()))
    return LogNormalFit(mu=mu, sigma=float(sigma), n_positive=int(positive.size),
                        n_silent=int(r.size - positive.size),
                        ks_statistic=float(ks.statistic), ks_pvalue=float(ks.pvalue),
                        normal_ks_statistic=float(normal.statistic),
                        fraction_below_mean=float(np.mean(r < r.mean())),
                        skewness=float(stats.skew(r)) if r.std() > 0 else nan)
