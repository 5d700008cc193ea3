"""The iP-VAE's equations as Brian2 strings: every equation of the model, once.

The model (``docs/model.md``; Vafaii, Galor & Yates 2025) per time bin t of width tau,
starting at u = u0 for every stimulus::

    z_t     ~ Poisson(exp(u_t))                                   spike counts of bin t
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - max(du_t, u_floor))          hard floor, soft bound on du
    v_t     = max(u_t + du_t, u_floor)                            hard floor on u
    u_{t+1} = v_t - softplus(v_t - c_u)                           soft ceiling c_u

(the last line is c_u - softplus(c_u - v_t), the authors' soft clamp, written as v_t minus
the ceiling's pull softplus(v_t - c_u); the authors floor du and u at the same -8).

Symbols (names in the strings in brackets):

- u_k [``u``]: membrane potential of latent neuron k, a log firing rate (log counts/bin);
- z_k [``z``]: its integer spike count in the current step;
- x: the stimulus (M pixels); Phi (M x K): the dictionary; sigma (M,): the per-pixel
  standard deviation of the likelihood;
- I_ff = Phi^T x / sigma^2 [``I_ff``, read from the ``TimedArray`` ``feedforward`` every
  step by :data:`FEEDFORWARD_DRIVE`]: the feed-forward drive, fixed while the stimulus is;
- W = -(Phi^T diag(1/sigma^2) Phi) [``w`` of the lateral synapses]: lateral weights, the
  diagonal is self-inhibition; [``lateral``] = sum_j W_kj z_j, this step's lateral input;
- b = exp(log_bias) [``b``]: a per-neuron drive toward silence; eta = exp(log_lr)
  [``eta``]: the step size; u0 [``u0``]: the prior log-rates;
- c_u, c_du, u_floor [``c_u``, ``c_du``, ``u_floor``]: the soft ceilings on u and du and
  the hard floor on both u and du; softplus(x) = log(1 + exp(x));
- v [``u_floored``]: u + du after the soft bound on du and the floor on u, before the
  ceiling c_u pulls it down by softplus(v - c_u) per bin, i.e. by (dt / tau) softplus(v -
  c_u) per step. In discrete mode (dt = tau) this is the update above. In continuous mode
  it is its continuous-time limit, du/dt = -softplus(u - c_u) / tau: while u is below c_u
  the pull barely changes within a bin, so its sum over the tau / dt steps of a bin is the
  discrete model's pull, about exp(u - c_u) per bin (a pull applied in full on every step
  would be tau / dt times larger). Above c_u the two differ: the discrete ceiling maps any
  v below c_u in one bin, the continuous pull only relaxes u toward c_u with time constant
  tau, so [``clip(..., -inf, c_u)``] caps u at c_u on every step and c_u stays a hard
  ceiling on the rate exp(u) in both modes (a no-op in discrete mode, where u_{t+1} < c_u
  already). u comes near c_u only at runaway rates (exp(c_u) = 22,026 counts per bin for
  c_u = 10);
- du_t [``du``]: the change of one step, floored at u_floor; [``du_bounded``]: the same
  after its soft bound;
- tau [``tau``]: the bin width; dt [``dt``]: the simulation step (tau in discrete mode, a
  divisor of tau in continuous mode, where z is a Poisson process of rate exp(u)/tau);
- [``bound_shift``] = log(tau / dt): shifts the soft bound on du in continuous mode so its
  pull per bin does not grow with the number of steps (0 in discrete mode); the floor on
  du bounds the change of one step (one bin in discrete mode);
- [``t_chunk``]: start time of the current chunk of stimuli (the drive is indexed from it);
- [``onset``]: 1 in the first step of a stimulus, else 0, counted in steps by the one neuron
  of ``StimulusStreams`` ([``step_in_stimulus``], [``steps_per_stimulus``] = T tau / dt) and
  read by the latents through a linked variable;
- [``lanes``], [``lane``], [``neuron``]: a network may simulate ``lanes`` stimuli side by
  side (``RunConfig.lanes``), lanes x K latent neurons; latent i is neuron i mod K of the
  stimulus in lane i div K, which draws from that stimulus's counters
  ([``stream_stimulus``] + lane). With one lane, neuron = i and lane = 0.

The strings are used by :mod:`ipvae_brian.models.populations` (the groups and synapses)
and :mod:`ipvae_brian.models.network` (the operations and their scheduling slots).
"""

LATENT_EQUATIONS = """
u : 1                                  # membrane potential u_k: log firing rate, log(counts/bin)
z : integer                            # spike count z_k of the current step (bin)
lateral : 1                            # lateral input sum_j W_kj z_j of this step (synapses)
I_ff : 1                               # feed-forward drive (Phi^T x / sigma^2)_k of the step
u0 : 1 (constant)                      # prior log-rate u0_k, where u starts for every stimulus
b : 1 (constant)                       # bias b_k = exp(log_bias_k), a drive toward silence
eta : 1 (shared, constant)             # step size eta = exp(log_lr)
c_u : 1 (shared, constant)             # soft ceiling c_u of u
c_du : 1 (shared, constant)            # soft bound c_du of du
u_floor : 1 (shared, constant)         # hard floor of u and of du
t_chunk : second (shared)              # start time of the current chunk of stimuli
onset : integer (linked)               # 1 in the first step of a stimulus, else 0
stream_key : integer (linked)          # 32-bit key of the seed (random streams)
stream_stimulus : integer (linked)     # index (in the whole set) of lane 0's stimulus this step
stream_step : integer (linked)         # index of this step since that stimulus's onset
neuron : integer (constant)            # k, the neuron's index in its stimulus's K (i mod K)
lane : integer (constant)              # which of the stimuli side by side it serves (i div K)
"""

#: z_t ~ Poisson(exp(u_t)): exp(u) counts per bin of width tau, i.e. exp(u) dt / tau per step,
#: drawn from the counter (seed key, stimulus, step, neuron) in two passes
#: (:mod:`~ipvae_brian.models.random_streams`): ``poisson_head`` draws every count below 8
#: (rate below 10) without branches, so that it vectorises, and leaves -1 elsewhere, which
#: ``poisson_finish`` (:data:`POISSON_COUNTS_FINISH`) redraws with the whole algorithm.
POISSON_COUNTS = ("z = poisson_head(exp(u) * dt / tau, stream_key, stream_stimulus + lane, "
                  "stream_step, neuron)")

#: The second pass of the draw: z where it is a count, else the whole draw (see above).
POISSON_COUNTS_FINISH = ("z = poisson_finish(z, u, dt / tau, stream_key, stream_stimulus + lane, "
                         "stream_step, neuron)")

#: The feed-forward drive of this step, read from the ``TimedArray`` ``feedforward`` (one row
#: per stimulus or movie frame) just before the membrane update, in an operation of its own:
#: the lookup's indexed, bounds-checked load kept the compiler from vectorising the update.
FEEDFORWARD_DRIVE = "I_ff = feedforward(t - t_chunk, i)"

#: One step of the membrane potential (docs/model.md). ``lateral`` = sum_j W_kj z_j = -(Phi^T
#: Sigma^-1 Phi z)_k; with dt = tau, du = eta (Phi^T x / sigma^2 - Phi^T Sigma^-1 Phi z - b).
#: ``bound_shift`` = log(tau / dt) is 0 in discrete mode; the ceiling's pull is scaled by
#: dt / tau (1 in discrete mode) so that its pull per bin is the same in both modes, and
#: u is capped at c_u (see the module docstring).
MEMBRANE_UPDATE = """
du = clip(eta * ((I_ff - b) * dt / tau + lateral), u_floor, inf)  # step on F, hard floor
du_bounded = (c_du + bound_shift) - softplus((c_du + bound_shift) - du)  # soft bound on du
u_floored = clip(u + du_bounded, u_floor, inf)                     # hard floor on u
u = clip(u_floored - softplus(u_floored - c_u) * dt / tau, -inf, c_u)  # soft ceiling c_u
lateral = 0                                         # consumed, refilled in the next step
"""

#: Reset of the potential to the prior at the onset of every stimulus, u <- u0 where
#: ``onset`` = 1, else unchanged (exact: 1 * u0 + 0 * u = u0, 0 * u0 + 1 * u = u). It runs on
#: every step (slot ``start``, after :data:`STIMULUS_ONSET_COUNT` and before the draw; not in
#: streaming mode), on the network's one clock: see :data:`STIMULUS_ONSET_COUNT` for why not
#: on a clock of its own.
STIMULUS_ONSET_RESET = "u = onset * u0 + (1 - onset) * u   # u <- u0 at a stimulus onset\n"

#: The one neuron of :class:`StimulusStreams`: which stimulus starts next, which stimulus and
#: step the current step draws for, and the seed's key.
#: Every variable is shared, so the latents read them as scalars (an indexed read of a
#: linked per-neuron variable kept the compiler from vectorising the draw).
STIMULUS_STREAM_EQUATIONS = """
stimulus : integer (shared)              # index (in the whole set) of the next stimulus to start
step_in_stimulus : integer (shared)      # steps of dt since the current stimulus's onset
onset : integer (shared)                 # 1 in the first step of a stimulus, else 0
stream_stimulus : integer (shared)       # index of the stimulus (in lane 0) of this step
stream_step : integer (shared)           # this step's index since that stimulus's onset
stream_key : integer (shared, constant)  # 32-bit key of the seed (see stream_key())
steps_per_stimulus : integer (shared, constant)  # T tau / dt, steps of dt per stimulus
lanes : integer (shared, constant)       # stimuli side by side (lane b: stream_stimulus + b)
"""

#: Every step (slot ``start``, before the latents' reset and draw): is this the first step
#: of a stimulus? If so, count it (all ``lanes`` stimuli that start side by side); the
#: step's draws use the counters of ``stream_stimulus`` and ``stream_step``. The onsets are
#: counted in steps on the one clock of the network, not scheduled on a second clock of T tau:
#: Brian2's standalone program takes two clocks to tick together only if their times
#: differ by at most 1e-14 s, and i dt and n (T dt) round apart once the run is long
#: (T = 17 bins of 25 ms: from 64 s on), which moved some onsets one step late.
STIMULUS_ONSET_COUNT = """
onset = int(step_in_stimulus == 0)                    # first step of a stimulus?
stream_stimulus = stimulus + (onset - 1) * lanes      # the stimulus (lane 0) of this step
stream_step = step_in_stimulus                        # and the step within it
stimulus = stimulus + onset * lanes                   # counted at its onset
step_in_stimulus = (step_in_stimulus + 1) % steps_per_stimulus
"""

#: Weight of the lateral synapse from neuron j (pre) to neuron i (post).
LATERAL_SYNAPSE_MODEL = "w : 1 (constant)   # W_ij = -(Phi^T diag(1/sigma^2) Phi)_ij"

#: Each of the z_j spikes of neuron j in this step moves neuron i's input by W_ij.
LATERAL_ON_PRE = "lateral_post += w * z_pre"

#: The same input as one product per step (``lateral="matrix"``), computed once per step
#: by the one neuron of :class:`LateralProduct`: lateral_i = sum_j W_ij z_j for every
#: latent neuron i, with W the weights of the lateral synapses and z this step's counts,
#: summed over the columns j of W whose count is non-zero; ``spiking`` = how many were.
LATERAL_MATRIX_PRODUCT = "spiking = lateral_product()"
