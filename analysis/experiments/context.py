"""What every V1 experiment runs in: the parameters, the output folder, the seed, the progress.

:func:`make_experiment_context` builds the :class:`ExperimentContext` of ``ipvae
experiment`` and ``ipvae compare-v1``: the parameters from a file, else the shipped
natural16 parameters, else random ones (:func:`load_v1_parameters`), and the output
folder, created if its parent exists.
"""
from __future__ import annotations

import dataclasses
import os
import zlib

import numpy as np

from ipvae_brian.analysis.experiments.geometry import stimulus_side
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters

#: Pixels (16 x 16) and neurons of the parameters the V1 experiments use by default.
V1_PIXELS, V1_LATENTS = 256, 512


class ProgressReporter:
    """Receives the work done (in bin units) and the current activity; does nothing itself.

    The command line subclasses it with a tqdm bar (``ipvae_brian.cli.progress``).
    ``start`` is called when an experiment begins, with its estimated work (bin units);
    ``advance`` with the number of simulated bins (continuous-mode bins weighted by their
    cost); ``describe`` with a short text of what runs now; ``finish`` when the experiment
    ends.
    """

    def start(self, name: str, estimate: float) -> None:
        pass

    def advance(self, units: float) -> None:
        pass

    def describe(self, text: str) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclasses.dataclass
class ExperimentContext:
    """Everything an experiment needs besides its protocol.

    Attributes
    ----------
    params : IPVAEParameters
    params_source : str
        Where the parameters came from (file path, or "random (seed s)").
    out_dir : str
        Folder for recordings and figures (must exist).
    seed : int
        Root seed: every block draws from a stream derived from (seed, block name).
    quick : bool
        Small protocol sizes (tests, smoke runs).
    engine : str
        Brian2 engine for the network ("runtime", "standalone" or "auto").
    progress : ProgressReporter
    command_line : str
        Stored in every recording.
    shared : dict
        Results one experiment leaves for the next (e.g. grating preferences), so that
        ``compare-v1`` measures them once.
    protocol_overrides : dict
        Protocol fields to change (``analysis.experiments.protocol.Protocol``), e.g. for
        tests.
    """

    params: IPVAEParameters
    params_source: str
    out_dir: str
    seed: int = 0
    quick: bool = False
    engine: str = "runtime"
    progress: ProgressReporter = dataclasses.field(default_factory=ProgressReporter)
    command_line: str = ""
    shared: dict = dataclasses.field(default_factory=dict)
    protocol_overrides: dict = dataclasses.field(default_factory=dict)

    @property
    def side(self) -> int:
        """Side of the square stimuli, sqrt(M) (raises SimulationInputError if M is not square)."""
        return stimulus_side(self.params)

    @property
    def n_latents(self) -> int:
        return self.params.n_latents

    def path(self, name: str) -> str:
        """``<out_dir>/<name>``."""
        return os.path.join(self.out_dir, name)

    def block_seed(self, block: str) -> int:
        """Seed of one block, derived from (seed, block name)."""
        state = np.random.SeedSequence([int(self.seed), zlib.crc32(block.encode())])
        return int(state.generate_state(1, np.uint32)[0])


def load_v1_parameters(path: str | None, seed: int = 0):
    """The parameters of the V1 experiments: a file, else the shipped natural16 ones, else random.

    Parameters
    ----------
    path : str or None
        A parameter file (``IPVAEParameters.load``).
    seed : int
        Seed of the random parameters (M = 256, K = 512, the authors' initialisation) used
        when no file is given and none ships.

    Returns
    -------
    (IPVAEParameters, str, str or None)
        The parameters, where they came from, and a note to show when random parameters
        stand in.
    """
    from ipvae_brian.models.shipped import default_parameters_path
    if path:
        return IPVAEParameters.load(path), path, None
    shipped = default_parameters_path(V1_PIXELS)
    if shipped is not None:
        return IPVAEParameters.load(shipped), shipped, None
    note = (f"note: no --params given and no shipped natural16 parameters yet: using RANDOM "
            f"parameters (M = {V1_PIXELS}, K = {V1_LATENTS}, seed {seed}, the authors' "
            f"initialisation); the results describe an untrained network")
    return (IPVAEParameters.random(V1_PIXELS, V1_LATENTS, seed=seed), f"random (M = {V1_PIXELS}, "
            f"K = {V1_LATENTS}, seed {seed})", note)


def _say(text: str) -> None:
    print(text, flush=True)


def make_experiment_context(params_path: str | None, out_dir: str, *, seed: int = 0,
                            quick: bool = False, engine: str = "runtime",
                            command_line: str = "", notify=_say) -> ExperimentContext:
    """The context of a V1 run: parameters (:func:`load_v1_parameters`) and output folder.

    Parameters
    ----------
    params_path : str or None
        Parameter file; None for the shipped natural16 parameters (or random ones).
    out_dir : str
        Output folder; created if its parent exists.
    seed : int
        Root seed of the Poisson draws and noise stimuli (and of random parameters).
    quick : bool
        Small protocol sizes.
    engine : str
        "runtime", "standalone" or "auto".
    command_line : str
        Stored in every recording.
    notify : callable(str)
        Shows the note when random parameters stand in (default: print).

    Returns
    -------
    ExperimentContext

    Raises
    ------
    SimulationInputError
        If the parent of ``out_dir`` does not exist.
    """
    params, source, note = load_v1_parameters(params_path, seed)
    if note:
        notify(note)
    absolute = os.path.abspath(out_dir)
    if not os.path.isdir(absolute):
        if not os.path.isdir(os.path.dirname(absolute)):
            raise SimulationInputError(f"--out-dir {out_dir!r}: its parent folder does not "
                                       f"exist")
        os.makedirs(absolute)
    return ExperimentContext(params=params, params_source=str(source), out_dir=absolute,
                             seed=seed, quick=quick, engine=engine, command_line=command_line)
