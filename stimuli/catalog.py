"""The named stimulus sets and generators, and the ``NAME[:ARG[,ARG...]]`` spec grammar.

A spec names a data set or a generator and its arguments, e.g.::

    natural16:test                          data set, split word (default split: test)
    digits8:train
    grating:orientation=45,sf=0.1,contrast=0.5
    grating:orientation=0/45/90/135,contrast=0.25/1     sequences with "/": Cartesian product
    drifting_grating:orientation=0,sf=0.125,tf=0.0625,frames=64
    plaid:orientation=0,contrast=0.5,mask_contrast=0.5
    moving_bar:direction=90,frames=32,blank=4
    white_noise:n=500
    sparse_noise:contrast=0.25
    grating:diameter=none                   "none" means None (full field)

ARG is ``key=value`` or, for data sets, the bare split word. Values are parsed as int, then
float, else kept as text; ``a/b/c`` gives a list. :func:`load` returns the
:class:`~stimuli.stimulus_set.StimulusSet` with the spec added to its ``params``.
"""
from __future__ import annotations

import dataclasses
import inspect
import os
from typing import Callable

import numpy as np

from ipvae_brian.stimuli import digits8 as _digits8
from ipvae_brian.stimuli import gratings as _gratings
from ipvae_brian.stimuli import moving_bar as _moving_bar
from ipvae_brian.stimuli import natural16 as _natural16
from ipvae_brian.stimuli.stimulus_file import load_stimulus_file
from ipvae_brian.stimuli import noise as _noise
from ipvae_brian.stimuli.stimulus_set import StimulusError, StimulusSet

DATA_SET = "data set"
GENERATOR = "generator"
#: Split used when a data-set spec names none.
DEFAULT_SPLIT = "test"

#: Unit and meaning of every generator parameter, for the listing.
PARAMETER_HELP = {
    "orientation": "deg, wave-vector direction counter-clockwise from +x (0 = vertical stripes)",
    "direction": "deg, direction of motion counter-clockwise from +x (0 = rightward)",
    "sf": "cycles/pixel, 0 to 0.5",
    "tf": "cycles/bin, -0.5 to 0.5",
    "phase": "deg",
    "contrast": ">= 0, 1 = natural16 pixel variance",
    "mask_contrast": ">= 0, contrast of the orthogonal mask",
    "mask_sf": "cycles/pixel, none = same as sf",
    "mask_phase": "deg",
    "diameter": "pixels, circular aperture with grey surround; none = full field",
    "frames": "bins",
    "blank": "bins of grey before and after the sweep",
    "width": "fraction of size (bar width)",
    "polarity": "1 bright / -1 dark",
    "size": "pixels (image is size x size)",
    "center_x": "pixels right of the image centre",
    "center_y": "pixels above the image centre",
    "n": "number of stimuli",
    "distribution": "gaussian or binary",
    "seed": "random seed (default: the --seed of the command)",
}


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One named data set or generator."""

    name: str
    kind: str
    function: Callable
    size: str
    description: str


def _entries() -> dict:
    n16 = _natural16.SPLIT_SIZES
    n_digits_test = 1797 - _digits8.N_TRAIN
    entries = [
        CatalogEntry("natural16", DATA_SET, _natural16.natural16,
                     f"{n16['train']:,} train / {n16['test']:,} test patches, 16x16",
                     "whitened natural-image patches from photographs shipped with "
                     "scikit-image and scikit-learn, split by image, global z-score "
                     "(docs/data.md); built once and cached"),
        CatalogEntry("digits8", DATA_SET, _digits8.digits8,
                     f"{_digits8.N_TRAIN:,} train / {n_digits_test:,} test images, 8x8, "
                     "labels 0-9",
                     "scikit-learn's handwritten digits, pixels scaled to [0, 1]"),
        CatalogEntry("grating", GENERATOR, _gratings.grating,
                     "1 per parameter combination, 16x16",
                     "static sinusoidal gratings, optional circular aperture"),
        CatalogEntry("drifting_grating", GENERATOR, _gratings.drifting_grating,
                     "1 movie per parameter combination, frames x 16x16 (default 64 frames)",
                     "sinusoidal gratings drifting along their wave vector"),
        CatalogEntry("plaid", GENERATOR, _gratings.plaid,
                     "1 per parameter combination, 16x16 (movies if frames is given)",
                     "test grating plus orthogonal mask at its own contrast"),
        CatalogEntry("moving_bar", GENERATOR, _moving_bar.moving_bar,
                     "1 movie per direction, (blank + frames + blank) x 16x16 "
                     "(default 4 + 32 + 4)",
                     "bar of width 0.2 x size sweeping across the field (Hubel & Wiesel "
                     "demo), grey frames before and after"),
        CatalogEntry("white_noise", GENERATOR, _noise.white_noise,
                     "n images (default 1,000), 16x16, or movies with frames",
                     "independent Gaussian or binary pixels for reverse correlation"),
        CatalogEntry("sparse_noise", GENERATOR, _noise.sparse_noise,
                     "512 images (each pixel bright and dark) or n random, 16x16",
                     "single bright or dark pixels on grey for receptive-field mapping"),
    ]
    return {e.name: e for e in entries}


ENTRIES = _entries()


def names() -> list[str]:
    """Names of all data sets and generators, in listing order."""
    return list(ENTRIES)


def _generator_parameters(function: Callable) -> dict:
    """Keyword parameters of a generator with their defaults, in signature order."""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()}


def _parameters_text(entry: CatalogEntry) -> str:
    if entry.kind == DATA_SET:
        return (f"split word: train or test (default {DEFAULT_SPLIT}); "
                "n = first n stimuli of the split")
    parts = []
    for key, default in _generator_parameters(entry.function).items():
        default_text = "none" if default is None else f"{default:g}" \
            if isinstance(default, float) else str(default)
        parts.append(f"{key} ({PARAMETER_HELP.get(key, '')}; default {default_text})")
    return "; ".join(parts)


def available() -> list[dict]:
    """The stimulus sets and generators that :func:`load` accepts.

    Returns
    -------
    list of dict
        One per name, with keys ``name``, ``kind`` (``"data set"`` or ``"generator"``),
        ``size`` (text), ``description`` and ``parameters`` (text: accepted keys, units,
        defaults). Nothing is built or loaded.
    """
    return [{"name": e.name, "kind": e.kind, "size": e.size, "description": e.description,
             "parameters": _parameters_text(e)} for e in ENTRIES.values()]


def _parse_scalar(text: str):
    if text.lower() in ("none", "full"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_value(text: str):
    """One spec value: int, float, None (``none``), text, or a list for ``a/b/c``."""
    text = text.strip()
    if "/" in text:
        return [_parse_scalar(part.strip()) for part in text.split("/")]
    return _parse_scalar(text)


def parse_spec(spec: str) -> tuple[str, list, dict]:
    """Split ``NAME[:ARG[,ARG...]]`` into the name, bare words and ``key=value`` arguments.

    Parameters
    ----------
    spec : str

    Returns
    -------
    name : str
    words : list of str
        Arguments without ``=`` (the split word of a data set).
    kwargs : dict
        Parsed ``key=value`` arguments, in the order given.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise StimulusError(f"stimulus spec {spec!r} is empty; expected NAME[:ARG[,ARG...]] "
                            f"with NAME one of: {', '.join(names())}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()
    words, kwargs = [], {}
    for arg in (a.strip() for a in rest.split(",")) if rest.strip() else ():
        if not arg:
            raise StimulusError(f"stimulus spec {spec!r} has an empty argument (check the commas)")
        if "=" in arg:
            key, _, value = arg.partition("=")
            key = key.strip()
            if not key:
                raise StimulusError(f"stimulus spec {spec!r}: argument {arg!r} has no key")
            if key in kwargs:
                raise StimulusError(f"stimulus spec {spec!r} gives {key!r} twice")
            kwargs[key] = parse_value(value)
        else:
            words.append(arg)
    return name, words, kwargs


def lookup(name: str) -> CatalogEntry:
    """The catalog entry of ``name`` (StimulusError listing the valid names if unknown)."""
    if name not in ENTRIES:
        raise StimulusError(f"unknown stimulus set {name!r}; valid names: {', '.join(names())}")
    return ENTRIES[name]


def check_generator_size(name: str, accepted: dict, kwargs: dict) -> None:
    """Refuse generator arguments whose stimuli would not fit in memory, before generating.

    Counts and sizes (``n``, ``frames``, ``blank``, ``size``) must be whole numbers, and
    the stimuli (sequences multiply into a grid) times their pixels must fit
    (:func:`~ipvae_brian.stimuli.input_limits.check_allocation`)."""
    from ipvae_brian.stimuli.input_limits import check_allocation
    values = {**{k: v for k, v in accepted.items() if v is not inspect.Parameter.empty},
              **kwargs}
    for key in ("n", "frames", "blank", "size"):
        for value in (values.get(key) if isinstance(values.get(key), list)
                      else [values.get(key)]):
            if value is None:
                continue
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or value != value or value != int(value) or value < 0):
                raise StimulusError(f"{name}: {key} = {value!r} is not a whole number >= 0")
        if isinstance(kwargs.get(key), float):
            kwargs[key] = int(kwargs[key])    # 1e3 -> 1000
    size = values.get("size") or 16
    per_stimulus = 8.0 * max(size) ** 2 if isinstance(size, list) else 8.0 * size ** 2
    frames, blank = ((max(v) if isinstance(v, list) else v or 0)
                     for v in (values.get("frames"), values.get("blank")))
    per_stimulus *= max(1, frames + 2 * blank)
    count = float(values.get("n") or 1) if not isinstance(values.get("n"), list) else 1.0
    for value in kwargs.values():
        count *= len(value) if isinstance(value, list) else 1
    check_allocation(3 * count * per_stimulus,   # the stimuli and two working copies
                     f"{name} with these arguments ({count:,.0f} stimuli of "
                     f"{per_stimulus / 8:,.0f} values)", "ask for fewer or smaller stimuli",
                     StimulusError)


def load(spec: str, n: int | None = None, seed: int = 0, **file_options) -> StimulusSet:
    """Build or load the stimuli a spec names, or read them from a file.

    Parameters
    ----------
    spec : str
        ``NAME[:ARG[,ARG...]]`` (see the module notes), e.g. ``"natural16:test"`` or
        ``"grating:orientation=45,sf=0.1,contrast=0.5"``; or the path of a stimulus file
        (``.npy``, ``.h5``, ``.hdf5``, or any existing file:
        :func:`~ipvae_brian.stimuli.stimulus_file.load_stimulus_file`).
    n : int, optional
        Keep the first ``n`` stimuli (StimulusError if the set has fewer). A generator with an
        ``n`` parameter (the noises) that the spec leaves unset generates exactly ``n``.
    seed : int
        Seed for generators that take one, unless the spec sets ``seed``; data sets are
        deterministic by definition and ignore it.
    **file_options
        For a stimulus file: ``layout``, ``pixels``, ``pixels_required``, ``steps`` of
        :func:`~ipvae_brian.stimuli.stimulus_file.load_stimulus_file` (how a 3-D array
        is read); ignored for named sets.

    Returns
    -------
    StimulusSet
        With ``params["spec"] = spec``.
    """
    if os.path.splitext(spec)[1].lower() in (".npy", ".h5", ".hdf5") or os.path.exists(spec):
        from ipvae_brian.stimuli.input_limits import check_regular_file
        check_regular_file(spec, "stimulus file", error=StimulusError)
        stimuli = load_stimulus_file(spec, rows=n, **file_options)
        return stimuli if n is None else stimuli.head(n)
    name, words, kwargs = parse_spec(spec)
    entry = lookup(name)
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))):
        raise StimulusError(f"n = {n!r} is not an integer; allowed: 1 or more")
    if entry.kind == DATA_SET:
        valid_keys = ("split", "n")
        unknown = [k for k in kwargs if k not in valid_keys]
        if unknown:
            raise StimulusError(f"unknown parameter {unknown[0]!r} for {name}; valid: a split "
                                f"word (train or test) or {', '.join(valid_keys)}")
        splits = words + ([kwargs["split"]] if "split" in kwargs else [])
        if len(splits) > 1:
            raise StimulusError(f"stimulus spec {spec!r} names more than one split: {splits}")
        split = splits[0] if splits else DEFAULT_SPLIT
        if split not in ("train", "test"):
            raise StimulusError(f"split = {split!r} is not a {name} split; allowed: train or test")
        stimset = entry.function(split=split, n=kwargs.get("n"))
    else:
        if words:
            raise StimulusError(f"{name} takes key=value arguments, not {words[0]!r}; valid "
                                f"parameters: {', '.join(_generator_parameters(entry.function))}")
        accepted = _generator_parameters(entry.function)
        unknown = [k for k in kwargs if k not in accepted]
        if unknown:
            raise StimulusError(f"unknown parameter {unknown[0]!r} for {name}; valid "
                                f"parameters: {', '.join(accepted)}")
        if "seed" in accepted and "seed" not in kwargs:
            kwargs["seed"] = seed
        if "n" in accepted and "n" not in kwargs and n is not None:
            kwargs["n"] = n
        check_generator_size(name, accepted, kwargs)
        stimset = entry.function(**kwargs)
    if n is not None:
        stimset = stimset.head(int(n))
    return dataclasses.replace(stimset, params={**stimset.params, "spec": spec})
