"""The raster figure: what it draws (every spike once, the stimulus, the PSTH, labels) and the
`run_sim.py plot raster` command, including its one-line errors."""
import os
import time

import h5py
import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.image import AxesImage
from matplotlib.patches import StepPatch
from matplotlib.text import Text

from ipvae_brian.analysis.raster import plot_raster, save_figure
from ipvae_brian.models.errors import SimulationInputError
from ipvae_brian.models.parameters import IPVAEParameters
from ipvae_brian.stimuli import catalog
from simulation_files import write_recording

TAU = 0.025
BAR = "moving_bar:direction=0,frames=32,blank=4"      # 4 + 32 + 4 = 40 frames = 1 s


def record(path, stimuli, steps, continuous=True, seed=3):
    """K = 64 neurons on 16 x 16 pixels starting at exp(-1) spikes per bin."""
    params = IPVAEParameters.random(256, 64, seed=2).replace(u0=np.full(64, -1.0))
    return write_recording(path, params, stimuli, steps, continuous=continuous, seed=seed,
                           bin_width=TAU)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("raster")
    bar = catalog.load(BAR, seed=0)
    gratings = catalog.load("grating:orientation=0/90,sf=0.15", seed=0)
    return {"bar": record(folder / "bar.h5", bar, 40),
            "bar_discrete": record(folder / "bar_discrete.h5", bar, 40, continuous=False),
            "static": record(folder / "gratings.h5", gratings, 20)}


def raster_points(fig):
    """(times, rows) of the spikes drawn in the raster (its one PathCollection)."""
    ax = fig.axes[1]
    collections = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(collections) == 1
    offsets = np.asarray(collections[0].get_offsets())
    return offsets[:, 0], offsets[:, 1]


def visible_texts(fig):
    found = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return found


def test_moving_bar_raster_draws_every_spike_with_stimulus_and_psth(recordings, tmp_path):
    path = recordings["bar"]
    start = time.perf_counter()
    fig = plot_raster(path)
    save_figure(fig, tmp_path / "raster.png")
    elapsed = time.perf_counter() - start
    print(f"raster of 64 neurons x 1 s moving bar: {elapsed:.2f} s to draw and save")
    with h5py.File(path, "r") as f:
        times = f["spikes/times"][()]
        neurons = f["spikes/neurons"][()]
        counts = f["counts"][0]
    ax_stim, ax_raster, ax_psth = fig.axes[:3]

    # every spike once, at its time, in its neuron's row
    x, rows = raster_points(fig)
    assert x.size == times.size == fig.raster_spike_count > 500
    order = list(fig.raster_order)
    assert sorted(order) == list(range(64))
    np.testing.assert_array_equal(np.sort(x), np.sort(times))
    drawn = sorted(zip(rows.astype(int), x))
    expected = sorted(zip([order.index(k) for k in neurons], times))
    assert drawn == expected
    # default order: by first-spike time, earliest on top (row 0)
    first = np.array([times[neurons == k].min() if np.any(neurons == k) else np.inf
                      for k in order])
    assert np.all(first[:-1] <= first[1:])      # silent neurons (inf) last
    assert ax_raster.get_ylim()[0] > ax_raster.get_ylim()[1]        # row 0 at the top

    # the stimulus: every 2nd frame of the 40, each over its own time slot, 0 to 1 s
    images = [c for c in ax_stim.get_children() if isinstance(c, AxesImage)]
    assert len(images) == 20
    starts = sorted(im.get_extent()[0] for im in images)
    np.testing.assert_allclose(starts, np.arange(20) * 2 * TAU + 0.04 * 2 * TAU)
    assert "every 2nd frame" in ax_stim.get_ylabel()

    # the PSTH: mean rate of the 64 neurons per 25 ms bin, in spikes/s, from the counts
    steps = [p for p in ax_psth.patches if isinstance(p, StepPatch)]
    assert len(steps) == 2                              # the filled area and its outline
    for step in steps:
        np.testing.assert_allclose(step.get_data().values, counts.sum(axis=1) / (64 * TAU))
        np.testing.assert_allclose(step.get_data().edges, np.arange(41) * TAU)
    np.testing.assert_allclose(ax_psth.get_xlim(), (0.0, 1.0))
    assert ax_psth.get_xlabel() == "time from stimulus onset (s)"
    assert "spikes/s" in ax_psth.get_ylabel()
    assert "sorted by first spike" in ax_raster.get_ylabel()
    # readable fonts everywhere (>= 9 pt)
    sizes = [t.get_fontsize() for t in visible_texts(fig)]
    assert min(sizes) >= 9, sorted(sizes)[:5]
    title = " ".join(t.get_text() for t in fig.texts)
    assert "continuous mode, dt = 0.5 ms" in title and f"{times.size:,} spikes" in title


def test_sort_orders_and_neuron_selection(recordings):
    path = recordings["bar"]
    with h5py.File(path, "r") as f:
        per_neuron = f["counts"][0].sum(axis=0).astype(np.int64)
    fig = plot_raster(path, sort="rate", neurons="10:30")
    assert sorted(fig.raster_order) == list(range(10, 30))
    assert np.all(np.diff(per_neuron[fig.raster_order]) <= 0)          # most spikes on top
    assert raster_points(fig)[0].size == per_neuron[10:30].sum()
    fig = plot_raster(path, sort="index", neurons=[40, 3, 17])
    assert list(fig.raster_order) == [3, 17, 40]
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["3", "17", "40"]


def test_discrete_mode_raster_spreads_ticks_within_bins_and_says_so(recordings):
    path = recordings["bar_discrete"]
    with h5py.File(path, "r") as f:
        counts = f["counts"][0]
    fig = plot_raster(path)
    x, rows = raster_points(fig)
    assert x.size == counts.sum() > 300
    # ticks of each bin lie strictly inside it, evenly spaced about its centre
    bins = np.floor(x / TAU).astype(int)
    np.testing.assert_array_equal(np.bincount(bins, minlength=40), counts.sum(axis=1))
    assert np.all((x - bins * TAU > 0) & (x - bins * TAU < TAU))
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "discrete mode" in notes
    assert "ticks spread evenly within its 25 ms bin" in notes


def test_static_image_is_shown_beside_its_duration(recordings):
    fig = plot_raster(recordings["static"], stimulus=1)
    image_axes = [ax for ax in fig.axes[3:] if ax.get_images()]
    assert len(image_axes) == 1
    image = image_axes[0].get_images()[0].get_array()
    assert image.shape == (16, 16)
    stim_texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "static image (16x16 pixels), shown throughout (0 to 0.5 s)" in stim_texts
    assert "ori 90" in " ".join(t.get_text() for t in fig.texts)


def test_plot_raster_command_writes_a_200_dpi_png(run_cli, recordings, tmp_path):
    out = tmp_path / "raster.png"
    code, stdout, stderr = run_cli("plot", "raster", recordings["bar"], "--neurons", "0:32",
                                   "--sort", "rate", "--out", out)
    assert code == 0, stderr
    assert f"wrote {out}" in stdout and "32 neurons sorted by rate" in stdout
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    with Image.open(out) as im:
        width, _ = im.size
        dpi = im.info.get("dpi")
    assert dpi is not None and round(dpi[0]) == 200
    assert 1200 < width < 1600                        # 7 in at 200 dpi, tight bounding box
    assert sorted(os.listdir(tmp_path)) == ["raster.png"]


@pytest.mark.parametrize("case,message", [
    ("stimulus", "stimulus 5 is out of range: the recording has 1 stimuli (0 to 0)"),
    ("stimulus-negative", "stimulus -1 is out of range"),
    ("neurons-range", "--neurons '0:65': range 0:65 is outside the recording's neurons 0 to 63"),
    ("neurons-index", "neuron 64 is out of range: the recording has 64 neurons (0 to 63)"),
    ("neurons-text", "--neurons 'first': expected a range like 0:64 or a list like 3,17,42"),
    ("params-file", "format 'ipvae-brian/parameters', expected one of ('ipvae-brian/recording',)"),
    ("not-hdf5", "not a readable HDF5 file"),
    ("missing", "does not exist"),
    ("format", "unknown figure format 'bmpx'"),
])
def test_plot_raster_bad_input_gives_one_clear_line(run_cli, recordings, tmp_path, case,
                                                    message):
    params = tmp_path / "params.h5"
    IPVAEParameters.random(16, 4, seed=0).save(params)
    text = tmp_path / "notes.h5"
    text.write_text("not a recording")
    out = tmp_path / ("raster.bmpx" if case == "format" else "raster.png")
    source = {"params-file": params, "not-hdf5": text,
              "missing": tmp_path / "missing.h5"}.get(case, recordings["bar"])
    extra = {"stimulus": ["--stimulus", "5"], "stimulus-negative": ["--stimulus", "-1"],
             "neurons-range": ["--neurons", "0:65"], "neurons-index": ["--neurons", "3,64"],
             "neurons-text": ["--neurons", "first"]}.get(case, [])
    before = sorted(os.listdir(tmp_path))
    code, _, stderr = run_cli("plot", "raster", source, "--out", out, *extra)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1, stderr
    assert message in stderr
    assert sorted(os.listdir(tmp_path)) == before                   # nothing written


def test_invalid_sort_is_an_input_error(recordings):
    with pytest.raises(SimulationInputError, match="--sort must be one of"):
        plot_raster(recordings["bar"], sort="alphabetical")
