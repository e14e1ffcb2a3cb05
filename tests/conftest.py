"""Test-wide settings.

Generated tests (hypothesis) draw new cases on every run of ``make test``, so a
developer's runs keep exploring. ``.ci/run`` selects the ``ci`` profile: the same cases
on every run, so that whether a change lands depends on the change alone.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
