"""Property tests draw the same examples on every run (set HYPOTHESIS_PROFILE=explore to draw new ones),
so that a red run always points at a change, never at a new draw."""

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
