"""A recording (a file or in-memory results) as Neo and Elephant objects.

- :func:`to_neo_block`: a ``neo.Block`` with one ``Segment`` per stimulus (a trial, time
  from its onset) and the neurons as one ``Group``; NixIO writes and reads it
  (:func:`write_nix`). Each segment holds what was simulated:

  - discrete mode: an ``AnalogSignal`` ``counts`` (T bins x neurons, sampling period tau;
    sample t is the count of bin [t tau, (t + 1) tau)), never invented spike times;
  - continuous mode: one ``SpikeTrain`` per neuron with the recorded spike times;
  - and, when recorded, an ``AnalogSignal`` ``u`` (the potentials, T x neurons).

  Every signal carries the array annotation ``neuron`` (the neuron index of each
  channel); every spike train the annotation ``neuron``.
- :func:`binned_spike_train`: the counts of one stimulus as an Elephant
  ``BinnedSpikeTrain`` (neurons x T bins of tau), exact, for Elephant's statistics.

Sources: a recording path, an open :class:`~ipvae_brian.models.recording.Recording`, a
:class:`~ipvae_brian.models.simulation.SimulationResult` that kept its counts, or an
:class:`~ipvae_brian.analysis.spike_trains.InMemoryRecording`.

Examples
--------
>>> from ipvae_brian.analysis.spike_trains import recording_from_arrays
>>> block = to_neo_block(recording_from_arrays(np.array([[[0, 2], [1, 0]]]), 0.025))
>>> len(block.segments), block.groups[0].name, block.segments[0].analogsignals[0].shape
(1, 'neurons', (2, 2))
"""
from __future__ import annotations

import contextlib
import os

import numpy as np

from ipvae_brian.analysis.spike_trains import (read_spike_trains, recording_from_result,
                                               select_neurons, select_stimuli)
from ipvae_brian.models.recording import Recording


@contextlib.contextmanager
def open_source(source):
    """A recording-like object (``counts``, ``attrs``, ``spikes``, ``u``, ...) of a source.

    Parameters
    ----------
    source : str, os.PathLike, Recording, InMemoryRecording or SimulationResult

    Yields
    ------
    Recording or InMemoryRecording
    """
    if isinstance(source, (str, os.PathLike)):
        with Recording.open(source) as rec:
            yield rec
    elif hasattr(source, "summary") and hasattr(source, "config"):    # SimulationResult
        yield recording_from_result(source)
    else:
        yield source


def _labels(rec, stimuli: np.ndarray):
    stimset = getattr(rec, "stimuli", None)
    labels = None if stimset is None else stimset.labels
    return [None if labels is None else labels[n] for n in stimuli]


def to_neo_block(source, stimuli=None, neurons=None, name: str | None = None):
    """The recording as a ``neo.Block``: one ``Segment`` per stimulus, the neurons a ``Group``.

    Parameters
    ----------
    source : str, os.PathLike, Recording, InMemoryRecording or SimulationResult
    stimuli : None, int, slice or sequence of int
        Stimulus indices (default: all N); one segment each, in this order.
    neurons : None, str, slice, int or sequence of int
        Neuron indices (default: all K), see
        :func:`~ipvae_brian.analysis.spike_trains.select_neurons`.
    name : str, optional
        The block's name (default: the source's name).

    Returns
    -------
    neo.Block
        Annotations ``mode``, ``bin_width`` and ``dt`` (s), ``n_latents``; segment n has
        ``index`` = the stimulus index and the annotation ``stimulus`` (and ``label``,
        when the stimuli have labels); ``block.groups[0]`` ("neurons") holds every
        segment's counts signal (discrete) or spike trains (continuous) and the
        annotation ``neurons`` (their indices).
    """
    import neo
    import quantities as pq
    with open_source(source) as rec:
        N, T, K = (int(s) for s in rec.counts.shape)
        stim_idx = select_stimuli(stimuli, N)
        neuron_idx = select_neurons(neurons, K)
        tau = float(rec.attrs["bin_width"])
        mode = str(rec.attrs.get("mode", "discrete"))
        continuous = mode == "continuous"
        trains = read_spike_trains(rec, stim_idx, neuron_idx) if continuous else None
        block = neo.Block(name=name or os.path.basename(str(rec.path)),
                          description=f"iP-VAE network, {mode} mode: one segment per stimulus",
                          mode=mode, bin_width=tau, dt=float(rec.attrs.get("dt", tau)),
                          n_latents=K)
        group = neo.Group(name="neurons", description="the latent neurons of the network",
                          neurons=neuron_idx)
        for a, (n, label) in enumerate(zip(stim_idx, _labels(rec, stim_idx))):
            extra = {} if label is None else {"label": label.item() if hasattr(label, "item")
                                              else label}
            segment = neo.Segment(name=f"stimulus {int(n)}", index=int(n), stimulus=int(n),
                                  **extra)
            signals = {"u": rec.u} if getattr(rec, "u", None) is not None else {}
            if not continuous:
                signals = {"counts": rec.counts, **signals}
            for key, data in signals.items():
                values = np.asarray(data[int(n)])[:, neuron_idx]
                signal = neo.AnalogSignal(
                    values.astype(np.float64) if key == "u" else values,
                    units=pq.dimensionless, sampling_period=tau * pq.s, t_start=0 * pq.s,
                    name=key, array_annotations={"neuron": neuron_idx},
                    description=("spike counts per bin of width tau, as simulated (sample t = "
                                 "bin [t tau, (t + 1) tau)); no spike times exist"
                                 if key == "counts" else "membrane potential u_t, "
                                 "log(spikes per bin)"))
                segment.analogsignals.append(signal)
                signal.segment = segment
                if key == "counts":
                    group.add(signal)
            if continuous:
                for b, k in enumerate(neuron_idx):
                    st = neo.SpikeTrain(trains.train(a, b), units=pq.s, t_start=0 * pq.s,
                                        t_stop=T * tau * pq.s, name=f"neuron {int(k)}",
                                        neuron=int(k))
                    segment.spiketrains.append(st)
                    st.segment = segment
                    group.add(st)
            block.segments.append(segment)
            segment.block = block
        block.groups.append(group)
        group.block = block
    return block


def write_nix(block, path) -> str:
    """Write a Block with Neo's NixIO (``pip install nixio``); returns the path."""
    from neo.io import NixIO
    path = os.fspath(path)
    with NixIO(path, mode="ow") as io:
        io.write_block(block)
    return path


def read_nix(path):
    """The first Block of a NIX file (Neo's NixIO)."""
    from neo.io import NixIO
    with NixIO(os.fspath(path), mode="ro") as io:
        return io.read_block(lazy=False)


def binned_spike_train(source, stimulus: int = 0, neurons=None):
    """The counts of one stimulus as an Elephant ``BinnedSpikeTrain`` (exact, no times).

    Parameters
    ----------
    source : str, os.PathLike, Recording, InMemoryRecording or SimulationResult
    stimulus : int
        Stimulus index.
    neurons : None, str, slice, int or sequence of int
        Neuron indices (default: all K).

    Returns
    -------
    elephant.conversion.BinnedSpikeTrain
        Rows = the neurons, columns = the T bins of tau, from t = 0 (the stimulus onset)
        to T tau; ``to_array()`` gives back the recorded counts.
    """
    import quantities as pq
    import scipy.sparse
    from elephant.conversion import BinnedSpikeTrainView
    with open_source(source) as rec:
        N, T, K = (int(s) for s in rec.counts.shape)
        n = int(select_stimuli(stimulus, N)[0])
        neuron_idx = select_neurons(neurons, K)
        tau = float(rec.attrs["bin_width"])
        counts = np.asarray(rec.counts[n])[:, neuron_idx].T.astype(np.int32)
    return BinnedSpikeTrainView(t_start=0.0, t_stop=T * tau, bin_size=tau, units=pq.s,
                                sparse_matrix=scipy.sparse.csr_matrix(counts))
