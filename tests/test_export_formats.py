"""What a discrete-mode recording exports is what was simulated: binned counts in NWB
(round trip exact, nwbinspector clean) and Elephant, a Neo Block that NixIO writes and
reads; and the figures of a recording, checked by their axes, labels and data."""
import h5py
import numpy as np
import pytest

from ipvae_brian.models.config import RunConfig
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.models.simulation import simulate
from ipvae_brian.stimuli import catalog
from ipvae_brian.stimuli.stimulus_set import StimulusSet

K, T, N = 8, 4, 200


@pytest.fixture(scope="module")
def discrete(tmp_path_factory):
    """A 200-stimulus discrete recording (K = 8, T = 4) with u and the reconstructions."""
    path = tmp_path_factory.mktemp("export") / "d.h5"
    x = np.random.default_rng(0).standard_normal((N, 64))
    params = IPVAEParameters.random(64, K, seed=0)
    simulate(params, StimulusSet("test", x, (8, 8)),
             RunConfig(steps=T, record=("u", "recon"), engine="runtime"), seed=1, out=str(path))
    return path


def test_nwb_discrete_holds_binned_counts_exactly(discrete, tmp_path):
    pynwb = pytest.importorskip("pynwb")
    nwbinspector = pytest.importorskip("nwbinspector")
    from ipvae_brian.analysis.nwb_export import export_nwb
    seen = []
    out = export_nwb(discrete, tmp_path / "d.nwb", progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] > 0              # the bar reaches its total
    with h5py.File(discrete, "r") as f:
        counts, u, recon = f["counts"][()], f["u"][()], f["reconstructions"][()]
        phi = f["params/Phi"][()]
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        binned = nwb.acquisition["binned_spikes"]
        assert binned.bin_width_in_ms == 25.0
        data = binned.data[:]
        assert data.shape == (K, N, T) and data.dtype == counts.dtype
        np.testing.assert_array_equal(data.transpose(1, 2, 0), counts)   # exact round trip
        np.testing.assert_allclose(binned.event_timestamps[:], np.arange(N) * T * 0.025)
        assert nwb.units is None or "spike_times" not in nwb.units      # no invented times
        neurons = nwb.processing["ecephys"]["neurons"]
        np.testing.assert_array_equal(np.stack(neurons["dictionary"][:]), phi.T)
        np.testing.assert_array_equal(
            nwb.acquisition["membrane_potential"].data[:], u.reshape(N * T, K))
        frames = nwb.acquisition["reconstruction"].data[:]
        np.testing.assert_array_equal(frames[7].T.ravel(), recon[1, 3])
        assert nwb.subject.species.endswith("NCBITaxon_32630")
        assert binned.data.compression == "gzip"
    messages = [m for m in nwbinspector.inspect_nwbfile(nwbfile_path=str(out)) if m]
    assert {m.importance.name for m in messages} <= {"BEST_PRACTICE_SUGGESTION"}, [
        (m.check_function_name, m.message) for m in messages]


def test_neo_block_from_file_and_memory_and_nixio(discrete, tmp_path):
    pytest.importorskip("nixio")
    from ipvae_brian.analysis.neo_block import (binned_spike_train, read_nix, to_neo_block,
                                                write_nix)
    with h5py.File(discrete, "r") as f:
        counts = f["counts"][()]
    block = to_neo_block(discrete, stimuli=range(10))
    assert len(block.segments) == 10 and [g.name for g in block.groups] == ["neurons"]
    assert len(block.groups[0].analogsignals) == 10
    read = read_nix(write_nix(block, tmp_path / "d.nix"))
    assert len(read.segments) == 10 and len(read.groups) == 1
    for n in (0, 9):
        signals = {s.name: s for s in read.segments[n].analogsignals}
        assert set(signals) == {"counts", "u"}
        np.testing.assert_array_equal(np.asarray(signals["counts"].magnitude), counts[n])
        np.testing.assert_array_equal(signals["counts"].array_annotations["neuron"],
                                      np.arange(K))
        assert float(signals["counts"].sampling_period.rescale("s").magnitude) == 0.025
    assert read.annotations["mode"] == "discrete"
    # in memory: a SimulationResult, no file
    result = simulate(IPVAEParameters.random(64, K, seed=0),
                      np.random.default_rng(0).standard_normal((3, 64)),
                      RunConfig(steps=T, engine="runtime"), seed=1)
    block = to_neo_block(result)
    np.testing.assert_array_equal(np.asarray(block.segments[2].analogsignals[0].magnitude),
                                  result.counts[2])
    bst = binned_spike_train(result, stimulus=2, neurons="0:4")
    np.testing.assert_array_equal(bst.to_array(), result.counts[2][:, :4].T)
    assert float(bst.bin_size.rescale("s").magnitude) == 0.025


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel()


def test_reconstruction_figure(discrete):
    from ipvae_brian.analysis.recording_figures import plot_reconstruction
    from ipvae_brian.models.run_summary import r_squared
    fig = plot_reconstruction(discrete, stimulus=5, times=[0, 3])
    with h5py.File(discrete, "r") as f:
        x, recon = f["stimuli/x"][5], f["reconstructions"][5]
    np.testing.assert_allclose(fig.plotted["images"], recon[[0, 3]], rtol=1e-6)
    np.testing.assert_allclose(fig.plotted["r2"], r_squared(x, recon), rtol=1e-5)
    curve = fig.axes[-1]
    assert _labels(curve) == ("bin t (25 ms each)", "R^2 of Phi z_t")
    np.testing.assert_allclose(curve.lines[0].get_ydata(), fig.plotted["r2"])
    assert [ax.get_title() for ax in fig.axes[:3]][1].startswith("Phi z_t, t = 0")


def test_potentials_figure(discrete):
    from ipvae_brian.analysis.recording_figures import plot_potentials
    fig = plot_potentials(discrete, stimulus=2, neurons="1,4")
    ax = fig.axes[0]
    assert _labels(ax) == ("time from stimulus onset (s)", "u (log spikes per bin)")
    with h5py.File(discrete, "r") as f:
        np.testing.assert_array_equal(ax.lines[1].get_ydata(), f["u"][2, :, 4])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1", "4"]


def test_dictionary_figure(discrete):
    from ipvae_brian.analysis.recording_figures import plot_dictionary_of
    fig = plot_dictionary_of(discrete, columns=4)
    with h5py.File(discrete, "r") as f:
        usage, phi = f["counts"][()].mean(axis=(0, 1)), f["params/Phi"][()]
    order = fig.plotted["order"]
    assert np.all(np.diff(usage[order]) <= 0) and sorted(order) == list(range(K))
    canvas = fig.axes[0].images[0].get_array()
    tile = phi[:, order[0]].reshape(8, 8)
    np.testing.assert_allclose(canvas[1:9, 1:9], tile / np.abs(tile).max())
    assert "dictionary Phi" in fig.axes[0].get_title()


def test_receptive_fields_figure(tmp_path):
    from ipvae_brian.analysis.receptive_fields import spike_triggered_average
    from ipvae_brian.analysis.recording_figures import plot_receptive_fields
    stimuli = catalog.load("white_noise:n=50,size=8", seed=0)
    result = simulate(IPVAEParameters.random(64, K, seed=0), stimuli,
                      RunConfig(steps=T, engine="runtime"), seed=0)
    fig = plot_receptive_fields(result, neurons="0:3")
    sta = spike_triggered_average(stimuli.x, result.counts.sum(axis=1)[:, :3])
    np.testing.assert_allclose(fig.plotted["sta"], sta)
    assert len(fig.axes) == 6 and fig.axes[0].get_ylabel() == "STA"
    assert fig.axes[0].get_title().startswith("0: r = ")


def test_tuning_figure(tmp_path):
    from ipvae_brian.analysis.recording_figures import plot_tuning
    stimuli = catalog.load("grating:orientation=0/45/90/135,sf=0.125,size=8", seed=0)
    result = simulate(IPVAEParameters.random(64, K, seed=0), stimuli,
                      RunConfig(steps=T, engine="runtime"), seed=0)
    fig = plot_tuning(result, neurons="2,5")
    ax = fig.axes[0]
    assert fig.plotted["parameter"] == "orientation"
    np.testing.assert_array_equal(fig.plotted["values"], [0, 45, 90, 135])
    rate = result.counts.mean(axis=1) / 0.025
    np.testing.assert_allclose(fig.plotted["rates"][:, 1], rate[:, 5])   # one stimulus each
    assert ax.get_xlabel().startswith("orientation") and ax.get_ylabel() == "mean rate (spikes/s)"
