"""Errors raised for bad input to the simulator.

Every error a user can cause (a wrong shape, a NaN, a missing or corrupt file,
an impossible option) is one of these, with a message that names the problem;
the command line prints the message on one line and exits non-zero instead of
showing a traceback.
"""


class SimulationInputError(ValueError):
    """Input to the model or the network is invalid; the message says which and why."""


class ParameterError(SimulationInputError):
    """A parameter set is invalid (shapes disagree, values not finite, ...)."""


class FileFormatError(SimulationInputError):
    """A parameter or recording file is missing, truncated, or not in our format."""
