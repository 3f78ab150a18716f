"""Chapter 15's diagram: the ring all-reduce schedule and its drawing."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest

from aigc_course.viz.diagrams import distributed


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_ring_schedule_ends_with_every_worker_holding_every_complete_sum(n):
    states = distributed.ring_schedule(n)
    assert len(states) == 2 * (n - 1) + 1
    everyone = frozenset(range(n))
    after_rs = states[n - 1]  # after reduce-scatter, worker r holds the complete chunk (r + 1) mod n
    for r in range(n):
        assert after_rs[r][(r + 1) % n] == everyone
    assert all(chunk == everyone for row in states[-1] for chunk in row)
    for s in range(1, len(states)):  # each round every worker receives exactly one chunk
        for r in range(n):
            assert sum(states[s][r][c] != states[s - 1][r][c] for c in range(n)) == 1


def test_ring_allreduce_draws_and_rejects_sizes_that_do_not_fit():
    fig = distributed.ring_allreduce(3, show=False)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert "Σ₀" in texts and "a₀" in texts
    with pytest.raises(ValueError):
        distributed.ring_allreduce(5, show=False)
    with pytest.raises(ValueError):
        distributed.ring_schedule(1)
