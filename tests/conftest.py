# SPDX-License-Identifier: GPL-2.0-or-later
"""Hypothesis profiles for the whole suite (no fixtures here).

``ci`` (the default): a few hundred examples per property, no deadline (a
loaded CI machine must not turn slowness into failures).  ``slow``: at least
10 000 examples per property, for a fuzzing run by hand::

    .venv/bin/python -m pytest tests/test_fuzz_parsers.py --hypothesis-profile=slow

(``--hypothesis-profile`` is hypothesis' own pytest option.)
"""

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    # Mutating real captures makes big inputs on purpose.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

settings.register_profile("ci", max_examples=300, **_COMMON)
settings.register_profile("slow", max_examples=10_000, **_COMMON)
settings.load_profile("ci")
