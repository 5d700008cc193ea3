"""The model's side of ``compare-ephys``: the recording's protocol where known, else the default.

:func:`model_protocol` reads the recording's trial columns
(``analysis.tuning_statistics.KNOWN_COLUMNS``) and picks what the model is shown:

- **matched gratings** (an ``orientation``, ``contrast`` or ``size`` column): one
  drifting grating per recorded condition (``stimuli.gratings.drifting_grating``) at
  the recorded direction (deg) and contrast (contrast 1 = the natural16 pixel standard
  deviation; default the protocol's 0.5), in a centred disc whose diameter is the
  recorded size over the largest recorded size times the image side (the largest one
  full field), drifting at the recorded temporal frequency (Hz times the bin width
  tau, in cycles per bin; default the protocol's 1/32 cycle per bin), at the spatial
  frequency of :data:`GRATING_SF` (cycles/pixel: the recording's cycles/deg have no pixel
  equivalent); blank trials (contrast 0) as a blank movie;
- **matched white noise** (``stimulus_type`` containing "noise", or ``noise_seed``):
  one Gaussian white-noise movie (``stimuli.noise.white_noise``, contrast 1) per
  recorded condition, a fresh frame every bin, the same movie on its repeats;
- **matched natural images** (``image_index`` and an image file): image
  ``image_index`` of the file per condition, held for the whole trial;
- **default** (none of these): the natural-image experiment's repeated patches
  (``repeat_images`` natural16 test patches, ``analysis.experiments.natural``).

Time: every model trial starts from u = u0 (the prior) and runs ``settle`` bins
before the counting window (the protocol's ``settle_bins``, 32 bins = 800 ms, for
gratings; ``natural_skip``, 8 bins = 200 ms, for images and noise), then a window of
the recording's length (matched windows: the same duration d in seconds; the model's
bin is tau = 25 ms), in continuous time (dt = tau / ``substeps``) so that spike
times exist for the ISI statistics. Each condition is repeated on
min(recorded trials per condition, ``max_trials``) trials (at least 2).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ipvae_brian.analysis.experiments.base import BIN_WIDTH_S, run_block
from ipvae_brian.analysis.trial_statistics import TrialSpikes

#: Spatial frequency of the matched gratings, cycles/pixel (the middle of the protocol's).
GRATING_SF = 0.125


@dataclasses.dataclass
class ModelProtocol:
    """What the model is shown.

    Attributes
    ----------
    kind : str
        "matched gratings", "matched white noise", "matched natural images" or "default".
    description : str
    stimuli : StimulusSet
        One stimulus per model trial, condition-major.
    condition : ndarray, shape (n_trials,), int
    conditions : dict of str -> ndarray, shape (n_trials,)
        The recorded stimulus columns of each model trial (the tuning statistics read
        them on both sides).
    settle : int
        Bins before the counting window.
    steps : int
        Bins per trial.
    """

    kind: str
    description: str
    stimuli: object
    condition: np.ndarray
    conditions: dict
    settle: int
    steps: int

    @property
    def matched(self) -> bool:
        return self.kind != "default"


def _representatives(ts: TrialSpikes) -> tuple:
    """(first trial of each condition, trials per model condition) of the recording."""
    first = np.array([np.flatnonzero(ts.condition == c)[0] for c in range(ts.n_conditions)])
    per = np.bincount(ts.condition)
    return first, per


def _kind(ts: TrialSpikes, images) -> str:
    cols = ts.conditions
    kind = np.char.lower(np.asarray(cols.get("stimulus_type", []), dtype=str))
    if "noise_seed" in cols or np.any(np.char.find(kind, "noise") >= 0):
        return "matched white noise"
    if "image_index" in cols and images is not None:
        return "matched natural images"
    if any(c in cols for c in ("orientation", "contrast", "size")):
        return "matched gratings"
    return "default"


def model_protocol(ctx, ts: TrialSpikes, images=None, max_trials: int = 10) -> ModelProtocol:
    """The model's stimuli for a recording's trials (see the module notes).

    Parameters
    ----------
    ctx : analysis.experiments.context.ExperimentContext
    ts : TrialSpikes
        The recording.
    images : StimulusSet, optional
        The natural images the recording's ``image_index`` refers to.
    max_trials : int
        Most model trials per condition.

    Returns
    -------
    ModelProtocol
    """
    from ipvae_brian.analysis.experiments.protocol import protocol_for
    from ipvae_brian.stimuli.stimulus_set import StimulusSet
    p = protocol_for(ctx)
    side = ctx.side
    kind = _kind(ts, images)
    window_bins = int(np.ceil(ts.duration / BIN_WIDTH_S - 1e-9))
    if kind == "default":
        from ipvae_brian.analysis.experiments.geometry import check_natural_side
        from ipvae_brian.analysis.experiments.natural import natural_patches
        check_natural_side(ctx.params)
        settle, n_cond = p.natural_skip, p.repeat_images
        trials = max(2, min(max_trials, p.repeat_trials))
        patches = natural_patches(side, n_cond)
        steps = settle + window_bins
        x = np.repeat(patches.x, trials, axis=0)
        condition = np.repeat(np.arange(n_cond), trials)
        stimuli = StimulusSet(name="natural16:test", x=x, image_shape=(side, side),
                              params={"description": f"{n_cond} natural16 test patches x "
                                      f"{trials} trials"}, labels=condition)
        return ModelProtocol(kind, f"default: {n_cond} natural16 test patches x {trials} "
                             f"trials (the recording's stimuli are unknown to the tool)",
                             stimuli, condition, {}, settle, steps)
    first, per = _representatives(ts)
    trials = int(np.clip(np.median(per), 2, max_trials))
    cols = {k: np.asarray(v)[first] for k, v in ts.conditions.items()}
    n_cond = first.size
    if kind == "matched gratings":
        settle = p.settle_bins
        steps = settle + window_bins
        movies, text = _gratings(cols, n_cond, p, side, steps)
    elif kind == "matched white noise":
        from ipvae_brian.stimuli.noise import white_noise
        settle = p.natural_skip
        steps = settle + window_bins
        movies = np.stack([white_noise(n=1, size=side, frames=steps,
                                       seed=int(ctx.block_seed(f"noise-{c}"))).x[0]
                           for c in range(n_cond)])
        text = f"{n_cond} Gaussian white-noise movies (contrast 1, a frame per bin)"
    else:
        settle = p.natural_skip
        steps = settle + window_bins
        index = cols["image_index"].astype(np.int64)
        if index.min() < 0 or index.max() >= images.n_stimuli:
            from ipvae_brian.models.errors import SimulationInputError
            raise SimulationInputError(f"the trials' image_index runs to {index.max()} but "
                                       f"--images holds {images.n_stimuli} images")
        movies = images.x[index]
        text = f"{n_cond} images of {images.params.get('path', 'the image file')}"
    x = np.repeat(movies, trials, axis=0)
    condition = np.repeat(np.arange(n_cond), trials)
    stimuli = StimulusSet(name="compare-ephys", x=x, image_shape=(side, side),
                          params={"description": text, "repeats": trials}, labels=condition)
    conditions = {k: np.repeat(v, trials) for k, v in cols.items()}
    return ModelProtocol(kind, f"{kind}: {text}, {trials} trials each", stimuli, condition,
                         conditions, settle, steps)


def _gratings(cols, n_cond, p, side, steps):
    from ipvae_brian.stimuli.gratings import drifting_grating
    ori = cols.get("orientation", np.zeros(n_cond)).astype(np.float64)
    contrast = cols.get("contrast", np.full(n_cond, p.grating_contrast)).astype(np.float64)
    size = cols.get("size")
    size = None if size is None else size.astype(np.float64)
    tf_hz = cols.get("temporal_frequency")
    tf = (np.full(n_cond, p.tf) if tf_hz is None
          else np.clip(tf_hz.astype(np.float64) * BIN_WIDTH_S, -0.5, 0.5))
    kind = np.char.lower(np.asarray(cols.get("stimulus_type", np.full(n_cond, "")), dtype=str))
    movies = np.zeros((n_cond, steps, side * side))
    largest = np.nanmax(size) if size is not None and np.any(np.isfinite(size)) else None
    for c in range(n_cond):
        if contrast[c] == 0 or kind[c] in ("blank", "gray", "grey") or not np.isfinite(ori[c]):
            continue
        diameter = None
        if largest is not None and np.isfinite(size[c]) and size[c] < largest:
            diameter = float(size[c] / largest * side)
        movies[c] = drifting_grating(orientation=float(ori[c]), sf=GRATING_SF, tf=float(tf[c]),
                                     contrast=float(contrast[c]), diameter=diameter,
                                     frames=steps, size=side).x[0]
    text = (f"{n_cond} drifting gratings at the recorded directions"
            + (", contrasts" if "contrast" in cols else f", contrast {p.grating_contrast:g}")
            + (", sizes (largest = full field)" if size is not None else ", full field")
            + (", temporal frequencies" if tf_hz is not None else
               f", {p.tf / BIN_WIDTH_S:g} Hz")
            + f"; SF {GRATING_SF:g} cycles/pixel")
    return movies, text


def run_model(ctx, protocol: ModelProtocol, duration: float, substeps: int = 10,
              bin_width: float | None = None) -> TrialSpikes:
    """Simulate the protocol in continuous time and return the model's TrialSpikes.

    Parameters
    ----------
    ctx : ExperimentContext
    protocol : ModelProtocol
    duration : float
        The recording's window length d, s (the model's window is ``settle`` bins after
        onset to d later).
    substeps : int
        Time steps per bin (dt = tau / substeps), >= 2.
    bin_width : float, optional
        PSTH bin width, s (the recording's).
    """
    from ipvae_brian.analysis.spike_trains import read_spike_trains
    from ipvae_brian.analysis.trial_statistics import PSTH_BIN_S
    block = run_block(ctx, "compare-ephys-model", protocol.stimuli, protocol.steps,
                      (protocol.settle, protocol.steps), substeps=max(2, int(substeps)),
                      protocol={"experiment": "compare-ephys", "kind": protocol.kind,
                                "description": protocol.description})
    trains = read_spike_trains(block.path)
    rows = [[np.asarray(trains.train(a, k)) for k in range(trains.neurons.size)]
            for a in range(trains.stimuli.size)]
    t0 = protocol.settle * BIN_WIDTH_S
    return TrialSpikes(trains=rows, window=(t0, t0 + duration), condition=protocol.condition,
                       conditions=protocol.conditions,
                       unit_ids=[str(k) for k in trains.neurons],
                       bin_width=PSTH_BIN_S if bin_width is None else bin_width, label="model")
