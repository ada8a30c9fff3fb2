"""The queueing model behind docs/SCALING.md (bench/queueing.py) against closed forms."""

from __future__ import annotations

import pytest

from bench.queueing import (
    capacity,
    drain_seconds,
    md1_time_in_system,
    mm1_time_in_system,
    simulate,
)


def test_one_lane_one_event_per_batch_with_exponential_service_is_m_m_1():
    """lambda = 0.5, mu = 1: mean time in system 1 / (mu - lambda) = 2 s."""
    lag = simulate(0.5, 1, seconds=400_000, batch=1, fixed=1.0, per_event=0.0, exponential=True)

    assert lag.mean_s == pytest.approx(mm1_time_in_system(0.5, 1.0), rel=0.03)
    assert mm1_time_in_system(0.5, 1.0) == 2.0
    assert lag.utilization == pytest.approx(0.5, rel=0.02)


def test_fixed_service_times_are_m_d_1():
    """Pollaczek-Khinchine for deterministic service: 1 + 0.5 / (2 x 0.5) = 1.5 s."""
    lag = simulate(0.5, 1, seconds=200_000, batch=1, fixed=1.0, per_event=0.0)

    assert md1_time_in_system(0.5, 1.0) == 1.5
    assert lag.mean_s == pytest.approx(1.5, rel=0.03)


def test_keyed_lanes_split_the_stream_into_independent_queues():
    """Two lanes at λ = 1 are two M/M/1 queues at λ = 0.5 each."""
    lag = simulate(1.0, 2, seconds=200_000, batch=1, fixed=1.0, per_event=0.0, exponential=True)

    assert lag.mean_s == pytest.approx(2.0, rel=0.04)


def test_batches_take_what_waits_and_the_ceiling_is_a_full_batch():
    assert capacity(batch=4000, fixed=0.03, per_event=0.000115) == pytest.approx(4000 / 0.49)
    busy = simulate(8000, 1, seconds=20)
    assert busy.stable and busy.mean_batch > 1000, "a loaded lane projects large batches"
    assert not simulate(20_000, 1, seconds=5).stable
    # 1,000 events of backlog, 100 events/s more arriving, one lane of 8,163 events/s.
    assert drain_seconds(1000, 100, 1) == pytest.approx(1000 / (capacity() - 100))
