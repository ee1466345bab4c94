"""Fixtures of the lab tests: the analysis tests' tiny, randomly initialised model saved to disk (the lab
tools are tested on it; they need no trained weights)."""
from tests.analysis.conftest import SEED, TINY, _one_thread, restorer, tiny_weights  # noqa: F401 (fixtures)
