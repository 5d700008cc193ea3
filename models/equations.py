"""The iP-VAE's equations as Brian2 strings: every equation of the model, once.

The model (``docs/model.md``; Vafaii, Galor & Yates 2025) per time bin t of width tau,
starting at u = u0 for every stimulus::

    z_t     ~ Poisson(exp(u_t))                                   spike counts of bin t
    du_t    = eta * (Phi^T x / sigma^2 - (Phi^T diag(1/sigma^2) Phi) z_t - b)
    du_t   <- c_du - softplus(c_du - du_t)                        soft upper bound on du
    u_{t+1} = c_u - softplus(c_u - max(u_t + du_t, u_floor))      soft bound c_u, hard floor

Symbols (names in the strings in brackets):

- u_k [``u``]: membrane potential of latent neuron k, a log firing rate (log counts/bin);
- z_k [``z``]: its integer spike count in the current step;
- x: the stimulus (M pixels); Phi (M x K): the dictionary; sigma (M,): the per-pixel
  standard deviation of the likelihood;
- I_ff = Phi^T x / sigma^2 [``I_ff``, read from the ``TimedArray`` ``feedforward``]: the
  feed-forward drive, fixed while the stimulus is;
- W = -(Phi^T diag(1/sigma^2) Phi) [``w`` of the lateral synapses]: lateral weights, the
  diagonal is self-inhibition; [``lateral``] = sum_j W_kj z_j, this step's lateral input;
- b = exp(log_bias) [``b``]: a per-neuron drive toward silence; eta = exp(log_lr)
  [``eta``]: the step size; u0 [``u0``]: the prior log-rates;
- c_u, c_du, u_floor [``c_u``, ``c_du``, ``u_floor``]: the soft ceilings on u and du and
  the hard floor on u; softplus(x) = log(1 + exp(x));
- tau [``tau``]: the bin width; dt [``dt``]: the simulation step (tau in discrete mode, a
  divisor of tau in continuous mode, where z is a Poisson process of rate exp(u)/tau);
- [``bound_shift``] = log(tau / dt): shifts the soft bound on du in continuous mode so its
  pull per bin does not grow with the number of steps (0 in discrete mode);
- [``t_chunk``]: start time of the current chunk of stimuli (the drive is indexed from it).

The strings are used by :mod:`ipvae_brian.models.populations` (the groups and synapses)
and :mod:`ipvae_brian.models.network` (the operations and their scheduling slots).
"""

LATENT_EQUATIONS = """
u : 1                                  # membrane potential u_k: log firing rate, log(counts/bin)
z : integer                            # spike count z_k of the current step (bin)
lateral : 1                            # lateral input sum_j W_kj z_j of this step (synapses)
I_ff = feedforward(t - t_chunk, i) : 1  # feed-forward drive (Phi^T x / sigma^2)_k of the stimulus
u0 : 1 (constant)                      # prior log-rate u0_k, where u starts for every stimulus
b : 1 (constant)                       # bias b_k = exp(log_bias_k), a drive toward silence
eta : 1 (shared, constant)             # step size eta = exp(log_lr)
t_chunk : second (shared)              # start time of the current chunk of stimuli
"""

#: z_t ~ Poisson(exp(u_t)): exp(u) counts per bin of width tau, i.e. exp(u) dt / tau per step.
POISSON_COUNTS = "z = poisson(exp(u) * dt / tau)"

#: One step of the membrane potential (docs/model.md). ``lateral`` = sum_j W_kj z_j = -(Phi^T
#: Sigma^-1 Phi z)_k; with dt = tau, du = eta (Phi^T x / sigma^2 - Phi^T Sigma^-1 Phi z - b).
#: ``bound_shift`` = log(tau / dt) is 0 in discrete mode (see the module docstring). The
#: last line but one is the soft upper bound c_u and the hard floor u_floor on the potential.
MEMBRANE_UPDATE = """
du = eta * ((I_ff - b) * dt / tau + lateral)        # natural-gradient step on F
du_bounded = (c_du + bound_shift) - softplus((c_du + bound_shift) - du)    # soft bound on du
u = c_u - softplus(c_u - clip(u + du_bounded, u_floor, inf))  # soft bound c_u, hard floor
lateral = 0                                         # consumed, refilled in the next step
"""

#: Reset of the potential to the prior at the onset of every stimulus.
STIMULUS_ONSET_RESET = "u = u0"

#: The one neuron of :class:`StimulusStreams`: which stimulus starts next, and the seed's key.
STIMULUS_STREAM_EQUATIONS = """
stimulus : integer                       # index (in the whole set) of the next stimulus to start
stream_key : integer (shared, constant)  # 32-bit key of the seed (see stream_key())
"""

#: At every stimulus onset: reseed the generators for this stimulus, count it.
STIMULUS_ONSET_RESEED = "stimulus = reseed_poisson_streams(stream_key, stimulus)"

#: Weight of the lateral synapse from neuron j (pre) to neuron i (post).
LATERAL_SYNAPSE_MODEL = "w : 1 (constant)   # W_ij = -(Phi^T diag(1/sigma^2) Phi)_ij"

#: Each of the z_j spikes of neuron j in this step moves neuron i's input by W_ij.
LATERAL_ON_PRE = "lateral_post += w * z_pre"

#: The same input as one product per step (``lateral="matrix"``), computed once per step
#: by the one neuron of :class:`LateralProduct`: lateral_i = sum_j W_ij z_j for every
#: latent neuron i, with W the weights of the lateral synapses and z this step's counts,
#: summed over the columns j of W whose count is non-zero; ``spiking`` = how many were.
LATERAL_MATRIX_PRODUCT = "spiking = lateral_product()"
