"""The network's parts: Brian2 groups and synapses built from the model's equations.

- :class:`LatentPopulation`: the K latent neurons (membrane potential u, counts z);
- :class:`LateralInhibition`: all-to-all synapses W = -Phi^T diag(1/sigma^2) Phi;
- :class:`LateralProduct`: the same lateral input as one product per step;
- :class:`StimulusStreams`: the stimulus onsets, and the stimulus and step that each
  step's counts are drawn for (one random stream per stimulus);
- :func:`float_precision`: the floating-point type they are built and run in.

How they are scheduled within a step, and run over many stimuli, is
:class:`~ipvae_brian.models.network.IPVAENetwork`'s business.
"""
from __future__ import annotations

import contextlib

import numpy as np
from brian2 import Function, NeuronGroup, Synapses, prefs
from brian2.devices.device import all_devices, get_device

from ipvae_brian.models.config import LATERAL_PROPAGATIONS
from ipvae_brian.models.equations import (LATENT_EQUATIONS, LATERAL_MATRIX_PRODUCT,
                                          LATERAL_ON_PRE, LATERAL_SYNAPSE_MODEL,
                                          STIMULUS_ONSET_COUNT, STIMULUS_STREAM_EQUATIONS)
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.functions import (LATERAL_PRODUCT_CPP, LATERAL_PRODUCT_CYTHON,
                                          LATERAL_PRODUCT_LANES_CPP)
from ipvae_brian.models.parameters import IPVAEParameters


@contextlib.contextmanager
def float_precision(precision: str = "float64"):
    """Brian2's ``core.default_float_dtype`` set to ``precision`` for the block, then restored.

    The variables of the groups and synapses created in the block (u, lateral, the
    weights w, the constants u0, b, eta, ...) get this type, and so do the temporaries and
    literals of the code generated in it (Brian2 reads the preference when it generates a
    run's code: at ``Network.run`` for the runtime engine, at ``device.build`` for the
    standalone one). The preferences are process-wide: they are set around every build and
    run of a network and never left set, so networks of both precisions coexist in a
    process. The counts z are integers either way. Brian2's ``TimedArray`` always holds
    float64: a float32 network's drive is rounded to float32 values before it is stored.

    Time stays float64 in float32 networks. Brian2 hoists loop invariants such as
    ``t - t_chunk`` (the drive's time) into temporaries of the default float type, and a
    float32 time is off by up to 2^-24 t: from about 2^19 steps into a run (2^19 dt) that
    exceeds dt / 32, and the drive ``TimedArray`` (rows of T tau, looked up to 1/(16 T) of
    a row) returns the previous stimulus's row in the first step of a stimulus. So for
    float32 ``codegen.loop_invariant_optimisations`` is off in the block (the invariants
    are a few multiplications per neuron, next to the four exp/log1p of the update), and
    :class:`LatentPopulation` keeps ``t_chunk`` in float64.

    Parameters
    ----------
    precision : {"float64", "float32"}
    """
    previous = (prefs.core.default_float_dtype, prefs.codegen.loop_invariant_optimisations)
    prefs.core.default_float_dtype = np.dtype(precision).type
    if precision != "float64":
        prefs.codegen.loop_invariant_optimisations = False
    try:
        yield
    finally:
        prefs.core.default_float_dtype, prefs.codegen.loop_invariant_optimisations = previous


class LatentPopulation(NeuronGroup):
    """K latent neurons whose state variable is the membrane potential u.

    A neuron "spikes" in a bin when its count z is positive; the event carries
    z spikes to the :class:`LateralInhibition` synapses.

    Parameters
    ----------
    params : IPVAEParameters
    bin_width : Quantity
        tau, the width of one time bin.
    dt : Quantity
        Simulation time step (equal to ``bin_width`` in discrete mode).
    lanes : int
        Stimuli side by side: lanes x K neurons, neuron i serving neuron i mod K of lane
        i div K (``u0`` and ``b`` repeated per lane).
    spike_events : bool
        Whether neurons with z > 0 emit spike events (for event-driven synapses and the
        spike record of continuous mode); without them no threshold runs.
    """

    def __init__(self, params: IPVAEParameters, bin_width, dt, lanes: int = 1,
                 spike_events: bool = True, name="latents"):
        K = params.n_latents
        super().__init__(lanes * K, LATENT_EQUATIONS,
                         threshold="z > 0" if spike_events else None,
                         reset="" if spike_events else None,
                         dt=dt, name=name, dtype={"t_chunk": np.float64})  # time: float64
        self.neuron = np.tile(np.arange(K), lanes)
        self.lane = np.repeat(np.arange(lanes), K)
        values = self.parameter_values(params, lanes)
        for variable, value in values.items():
            setattr(self, variable, value)
        self.u = values["u0"]

    @staticmethod
    def parameter_values(params: IPVAEParameters, lanes: int = 1) -> dict:
        """The values of the population's parameter variables (``u0``, ``b``, ``eta``,
        ``c_u``, ``c_du``, ``u_floor``) by name, the per-neuron ones repeated for every lane:
        set at construction, and by a standalone run's ``run_args``."""
        return {"u0": np.tile(params.u0, lanes), "b": np.tile(params.bias, lanes),
                "eta": params.eta, "c_u": params.c_u, "c_du": params.c_du,
                "u_floor": params.u_floor}


class LateralInhibition(Synapses):
    """All-to-all synapses W = -Phi^T diag(1/sigma^2) Phi, self-connections included.

    W is symmetric; its diagonal -||Phi_k||^2_{Sigma^-1} is each neuron's
    self-inhibition per spike, and an off-diagonal entry is negative
    (competition) for overlapping dictionary elements and positive for
    anti-correlated ones. The synapses are ordered by presynaptic neuron: the K
    synapses of neuron j (column j of W, W_ij for i = 0..K-1) are contiguous.

    Two ways to deliver the input sum_j W_ij z_j of a step, the same numbers in the
    same order of summation:

    - ``propagation="synapses"``: event-driven (``on_pre``): each neuron with a
      count z_j > 0 emits an event, and Brian2 visits its K synapses one by one
      through their pre- and postsynaptic index arrays, adding w_ij z_j to
      ``lateral`` of neuron i: (spiking neurons) x K indexed additions per step.
    - ``propagation="matrix"``: no ``on_pre``; once per step, the one neuron of
      :class:`LateralProduct` (attribute ``product``) adds z_j times column j of
      these synapses' own weights ``w`` to ``lateral`` for every neuron j with
      z_j > 0: the same (spiking neurons) x K multiply-adds, over contiguous memory
      and without per-synapse indices, so the compiler vectorises them. Measured at
      K = 512 (benchmarks/profile_network.py): an indexed synaptic addition costs
      about 5 ns here, a vectorised one well under 1 ns.

    The weights ``w`` (which a standalone run replaces with ``run_args``) live in
    these synapses in both formulations. With stimuli side by side (``lanes`` > 1, the
    product only) the synapses connect the first lane's K neurons, and the product applies
    them to every lane.
    """

    def __init__(self, latents: LatentPopulation, params: IPVAEParameters,
                 propagation: str = "synapses", lanes: int = 1, name="lateral"):
        if propagation not in LATERAL_PROPAGATIONS:
            raise SimulationInputError(f"unknown lateral propagation {propagation!r}; "
                                       f"allowed: {', '.join(LATERAL_PROPAGATIONS)}")
        K = params.n_latents
        if lanes > 1 and propagation != "matrix":
            raise SimulationInputError("stimuli side by side (lanes > 1) need the lateral "
                                       "product (lateral='matrix')")
        lane0 = latents if lanes == 1 else latents[:K]   # the weights are stored once
        super().__init__(lane0, lane0, model=LATERAL_SYNAPSE_MODEL,
                         on_pre=LATERAL_ON_PRE if propagation == "synapses" else None,
                         clock=latents.clock, name=name)
        self.add_attribute("propagation")
        self.add_attribute("product")
        self.propagation = propagation
        pre, post = np.repeat(np.arange(K), K), np.tile(np.arange(K), K)
        self.connect(i=pre, j=post)
        self.w = params.lateral_weights[post, pre]
        self.product = (LateralProduct(self, latents, K, lanes, name=name + "_matrix")
                        if propagation == "matrix" else None)


class LateralProduct(NeuronGroup):
    """One auxiliary neuron that applies the lateral synapses as one product per step.

    Its ``run_regularly`` operation ``lateral_product`` (slot ``synapses``, after the
    counts are drawn and before the membrane update) runs :data:`LATERAL_MATRIX_PRODUCT`
    once per step: the Brian2 function ``lateral_product()`` writes lateral_i = sum_j
    W_ij z_j into the latents' ``lateral`` from the synapses' weights ``w`` and the
    latents' counts ``z``, and returns how many neurons spiked (kept in ``spiking``).
    The C++ version reads and writes the arrays by their Brian2 names; the Cython
    version receives the live arrays in its namespace, so later changes to ``w`` are
    seen.

    Parameters
    ----------
    synapses : LateralInhibition
        Whose weights are W (presynaptic-major: w[j K + i] = W_ij).
    latents : LatentPopulation
        Whose counts z are read and whose ``lateral`` is written.
    K : int
        Number of latent neurons (of one stimulus).
    lanes : int
        Stimuli side by side: ``lateral`` and ``z`` hold lanes x K values, lane after lane,
        and the C++ product (:data:`LATERAL_PRODUCT_LANES_CPP`) applies each tile of W to
        all lanes while it is in cache.
    """

    def __init__(self, synapses: Synapses, latents: NeuronGroup, K: int, lanes: int = 1,
                 name="lateral_matrix"):
        super().__init__(1, "spiking : integer   # neurons with z > 0 in the last step",
                         clock=latents.clock, name=name)
        lateral = latents.variables["lateral"].get_value()
        counts = latents.variables["z"].get_value()
        weights = synapses.variables["w"]

        def _lateral_product():  # numpy target (and Brian2's unit checks)
            W = np.asarray(weights.get_value()).reshape(K, K).T   # W[i, j] = w[j K + i]
            lateral[:] = (counts.reshape(lanes, K).astype(float) @ W.T).ravel()
            return np.count_nonzero(counts)

        function = Function(_lateral_product, arg_units=[], return_unit=1, arg_types=[],
                            return_type="integer", stateless=False)
        real = {np.float64: "double", np.float32: "float"}[
            np.dtype(latents.variables["lateral"].dtype).type]
        code = LATERAL_PRODUCT_CPP if lanes == 1 else LATERAL_PRODUCT_LANES_CPP
        function.implementations.add_implementation("cpp", code=code.format(
            w=f"_dynamic_array_{synapses.name}_w", z=f"_array_{latents.name}_z",
            lateral=f"_array_{latents.name}_lateral", K=K, lanes=lanes, real=real),
            name="lateral_product")
        namespace = None
        if get_device() is all_devices["runtime"]:
            namespace = {"_ipvae_weights": weights.get_value(), "_ipvae_counts": counts,
                         "_ipvae_lateral": lateral}
        function.implementations.add_implementation(
            "cython", code=LATERAL_PRODUCT_CYTHON.format(K=K), name="lateral_product",
            namespace=namespace)
        self.add_attribute("function")
        self.add_attribute("operation")
        self.function = function
        self.operation = self.run_regularly(LATERAL_MATRIX_PRODUCT, when="synapses",
                                            name="lateral_product")


class StimulusStreams(NeuronGroup):
    """One auxiliary neuron that counts the steps of every stimulus and gives every
    stimulus its own random stream.

    Its ``run_regularly`` operation (every step, slot ``start``, order -1: before the
    latents' reset and Poisson draw) sets ``onset`` to 1 in the first step of a stimulus
    (``step_in_stimulus`` = 0) and 0 elsewhere, ``stream_stimulus`` and ``stream_step`` to
    the index of the step's stimulus (in the whole set) and of the step within it, and
    counts the stimulus at its onset. The latents read ``onset``, ``stream_key``,
    ``stream_stimulus`` and ``stream_step`` through linked variables; their counts are
    :func:`~ipvae_brian.models.random_streams.poisson_counts` of the counter (key,
    stimulus, step, neuron). Set ``stimulus`` to the global index of the first stimulus of
    a run and ``stream_key`` to :func:`stream_key` of the seed; a run starts at an onset
    (``step_in_stimulus`` = 0).

    Parameters
    ----------
    steps : int
        T, bins per stimulus.
    bin_width, dt : Quantity
        The bin width tau and the simulation time step (a divisor of tau).
    lanes : int
        Stimuli side by side: an onset starts ``lanes`` stimuli, ``stimulus`` .. ``stimulus
        + lanes - 1``, and counts them all.
    """

    def __init__(self, steps: int, bin_width, dt, lanes: int = 1, name="stimulus_streams"):
        super().__init__(1, STIMULUS_STREAM_EQUATIONS, dt=dt, name=name)
        self.steps_per_stimulus = int(steps) * int(round(float(bin_width / dt)))
        self.lanes = int(lanes)
        self.add_attribute("onset_count")
        self.onset_count = self.run_regularly(
            STIMULUS_ONSET_COUNT, when="start", order=-1, name=name + "_onset_count")
