"""The evaluations asset's SoftEM check catches a bad score (the tiny graph only ever feeds it
good ones, so there it could not fail)."""

from __future__ import annotations

import pandas as pd
import pytest
from recross_assets.defs.targets import softem_in_range


@pytest.mark.parametrize(("scores", "passed"), [
    ([0.0, 37.5, 100.0], True),
    ([37.5, 120.0], False),         # a fraction scaled to percent twice
    ([-0.5], False),
    ([50.0, float("nan")], False),  # a seed that produced no score
])
def test_softem_outside_0_to_100_or_missing_fails_the_check(scores, passed):
    assert softem_in_range(pd.Series(scores, name="softem")) is passed
