"""Writing small recordings for the tests that read them."""


def write_recording(path, params, stimuli, steps, continuous=True, seed=0, lateral=True,
                    bin_width=0.025, dt=0.0005):
    """Simulate ``stimuli`` (runtime engine) and write a recording at ``path``.

    Times in seconds; ``continuous=False`` gives a discrete-mode file.
    """
    from brian2 import second
    from ipvae_brian.models.network import IPVAENetwork
    from ipvae_brian.models.recording import RecordingWriter
    net = IPVAENetwork(params, steps, movie=stimuli.is_movie, bin_width=bin_width * second,
                       dt=dt * second if continuous else None, lateral_inhibition=lateral)
    attrs = {"seed": seed, "mode": net.mode, "bin_width": bin_width, "dt": float(net.dt),
             "stream": False}
    with RecordingWriter(path, params, stimuli, steps, attrs=attrs,
                         spikes=net.continuous) as writer:
        for chunk in net.run(stimuli.x, seed=seed):
            writer.append(chunk)
    return path
