"""Event-to-visible lag of the projection at a given arrival rate and number of lanes: a
discrete-event simulation fed with the per-batch costs measured by `make bench-pipeline`
(docs/BENCHMARKS.md), for docs/SCALING.md.

`make bench-scaling` (`python -m bench.queueing`). Stdlib only; seeded; a few seconds.

The model. Events arrive as a Poisson stream of rate λ. Projection lanes partition the
events by key (issue #20: shipment, order, invoice or account), so each of `lanes` lanes
sees an independent Poisson stream of λ / lanes — a keyed partition, not a shared queue.
A lane is one worker: when free, it claims every event of its lane waiting (up to
`batch`) and projects them in F + v·n seconds (a fixed cost per batch — claim,
transaction, commit, the derivation's per-batch work — plus a cost per event); events
arriving meanwhile wait for the next batch. An event's lag is the end of its batch
minus its arrival: what docs/BENCHMARKS.md calls event-to-visible, without intake and
polling.

Calibration (docs/BENCHMARKS.md, "Event pipeline", code 5235b2c, one projector): batches
of 4,000 ran at 8,100-8,310 events/s end to end, so F + 4,000·v ≈ 0.49 s; the steady 500
events/s run saw event-to-visible p50 54 ms / p95 69 ms including ~10 ms of intake and
the 20 ms polling of the bench. F = 30 ms and v = 0.115 ms put the model at both; the
script prints its own figure for 500 events/s beside the measured one. One lane uses
about one core (worker 0.067 + PostgreSQL 0.062 CPU ms per event for 0.12 wall ms), so
lanes scale only while cores (worker hosts, and the primary's share) are added with them.

`simulate` also takes exponential service times, so that its arithmetic can be checked
against closed forms (M/M/1 and M/D/1; tests/bench/test_queueing.py).
"""

from __future__ import annotations

import bisect
import math
import os
import random
import statistics
from dataclasses import dataclass

# Measured (docs/BENCHMARKS.md): see the module docstring.
BATCH_FIXED_S = 0.030
PER_EVENT_S = 0.000115
BATCH_MAX = 4000
# Per event CPU by process group in the 100,000-event run (CPU seconds / events).
CPU_MS_PER_EVENT = {"worker": 0.067, "postgres": 0.062, "web (intake)": 0.024}
MEASURED_STEADY_500 = (54, 69)  # ms, p50 / p95 event-to-visible at 500 events/s

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Lag:
    rate: float
    lanes: int
    utilization: float  # of each lane: busy time / simulated time
    mean_s: float
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    mean_batch: float
    stable: bool


def capacity(
    *, batch: int = BATCH_MAX, fixed: float = BATCH_FIXED_S, per_event: float = PER_EVENT_S
) -> float:
    """Events per second one lane projects when it always has a full batch waiting."""
    return batch / (fixed + per_event * batch)


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def simulate_lane(
    arrivals: list[float],
    *,
    batch: int,
    fixed: float,
    per_event: float,
    exponential: bool = False,
    rng: random.Random | None = None,
) -> tuple[list[float], float, int]:
    """One lane over sorted `arrivals`: (each event's lag, busy seconds, batches)."""
    lags: list[float] = []
    free_at, busy, batches, index, count = 0.0, 0.0, 0, 0, len(arrivals)
    while index < count:
        start = max(free_at, arrivals[index])
        # Everything waiting when the worker starts, up to a batch.
        end = bisect.bisect_right(arrivals, start, index, min(index + batch, count))
        size = end - index
        service = fixed + per_event * size
        if exponential:
            service = (rng or random).expovariate(1 / service)
        done = start + service
        lags.extend(done - arrivals[position] for position in range(index, end))
        busy += service
        batches += 1
        free_at, index = done, end
    return lags, busy, batches


def simulate(
    rate: float,
    lanes: int,
    *,
    seconds: float = 60.0,
    batch: int = BATCH_MAX,
    fixed: float = BATCH_FIXED_S,
    per_event: float = PER_EVENT_S,
    exponential: bool = False,
    seed: int = 20,
    warmup: float = 0.1,
) -> Lag:
    """Lag of Poisson arrivals at `rate` events/s over `lanes` keyed lanes for `seconds`.
    The first `warmup` share of the events is left out of the figures (empty start)."""
    rng = random.Random(seed)
    all_lags: list[float] = []
    busy_total, batches_total, events_total = 0.0, 0, 0
    for _ in range(lanes):
        arrivals, moment = [], 0.0
        while True:
            moment += rng.expovariate(rate / lanes)
            if moment > seconds:
                break
            arrivals.append(moment)
        lags, busy, batches = simulate_lane(
            arrivals,
            batch=batch,
            fixed=fixed,
            per_event=per_event,
            exponential=exponential,
            rng=rng,
        )
        all_lags.extend(lags[int(len(lags) * warmup) :])
        busy_total += busy
        batches_total += batches
        events_total += len(arrivals)
    ordered = sorted(all_lags)
    # The last batch may end after the horizon: busy time is capped at it.
    utilization = min(busy_total / (lanes * seconds), 1.0)
    # Unstable: arrivals exceed what full batches project; the backlog (and lag) grows
    # for as long as the rate lasts.
    stable = rate / lanes < capacity(batch=batch, fixed=fixed, per_event=per_event)
    return Lag(
        rate=rate,
        lanes=lanes,
        utilization=utilization,
        mean_s=statistics.fmean(ordered),
        p50_s=_percentile(ordered, 0.50),
        p95_s=_percentile(ordered, 0.95),
        p99_s=_percentile(ordered, 0.99),
        max_s=ordered[-1],
        mean_batch=events_total / max(batches_total, 1),
        stable=stable,
    )


def mm1_time_in_system(arrival: float, service: float) -> float:
    """M/M/1: mean time in system W = 1 / (mu - lambda)."""
    return 1 / (service - arrival)


def md1_time_in_system(arrival: float, service: float) -> float:
    """M/D/1 (Pollaczek-Khinchine): W = 1/mu + rho / (2 mu (1 - rho))."""
    rho = arrival / service
    return 1 / service + rho / (2 * service * (1 - rho))


def drain_seconds(backlog: float, rate: float, lanes: int) -> float:
    """How long a backlog takes to clear while `rate` keeps arriving (full batches)."""
    spare = lanes * capacity() - rate
    return math.inf if spare <= 0 else backlog / spare


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


def report(rates: list[float], lane_counts: list[int], seconds: float) -> str:
    mean = 2e9 / SECONDS_PER_YEAR
    lines = [
        f"Model: one lane projects a batch of n events in {BATCH_FIXED_S * 1000:.0f} ms +"
        f" n x {PER_EVENT_S * 1000:.3f} ms (batches up to {BATCH_MAX:,});"
        f" one lane's ceiling {capacity():,.0f} events/s.",
        f"100x plan: 2 billion events a year = {mean:,.1f} events/s on average,"
        f" peaks of 20x = {20 * mean:,.0f} events/s.",
        "",
        "Lane busy: share of time a lane's worker is in a batch (not CPU: much of the fixed"
        " cost is waiting on PostgreSQL). Lanes are independent only while each has its own"
        " core (about one per lane: worker and PostgreSQL together).",
        "",
        "| events/s | lanes | lane busy | mean batch | lag p50 ms | p95 ms | p99 ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rate in rates:
        for lanes in lane_counts:
            lag = simulate(rate, lanes, seconds=seconds)
            if not lag.stable:
                grows = rate - lanes * capacity()
                lines.append(
                    f"| {rate:,.0f} | {lanes} | 100% | {BATCH_MAX:,} |"
                    f" backlog grows {grows:,.0f}/s | | | |"
                )
                continue
            lines.append(
                f"| {rate:,.0f} | {lanes} | {lag.utilization:.0%} | {lag.mean_batch:,.0f} |"
                f" {_ms(lag.p50_s)} | {_ms(lag.p95_s)} | {_ms(lag.p99_s)} | {_ms(lag.max_s)} |"
            )
    check = simulate(500, 1, seconds=seconds)
    lines += [
        "",
        f"Calibration: at 500 events/s, 1 lane, the model gives p50 {_ms(check.p50_s)} ms /"
        f" p95 {_ms(check.p95_s)} ms; measured end to end (with intake and 20 ms polling)"
        f" {MEASURED_STEADY_500[0]} / {MEASURED_STEADY_500[1]} ms.",
        "",
        "Catching up after an outage at the 20x peak (backlog = one hour of peak arrivals):",
        "",
        "| lanes | backlog | drain time while the peak goes on |",
        "|---:|---:|---:|",
    ]
    backlog = 20 * mean * 3600
    for lanes in lane_counts:
        drain = drain_seconds(backlog, 20 * mean, lanes) / 60
        lines.append(f"| {lanes} | {backlog:,.0f} | {drain:,.1f} min |")
    cpu = sum(CPU_MS_PER_EVENT.values())
    lines += [
        "",
        "CPU at the 20x peak from the measured per-event costs"
        f" ({', '.join(f'{name} {ms} ms' for name, ms in CPU_MS_PER_EVENT.items())}):"
        f" {20 * mean * cpu / 1000:.2f} cores; at the mean {mean * cpu / 1000:.3f} cores.",
    ]
    return "\n".join(lines)


def main() -> None:
    seconds = float(os.environ.get("BENCH_QUEUE_SECONDS", "60"))
    mean = 2e9 / SECONDS_PER_YEAR
    rates = [round(mean), 500, round(20 * mean), 4000, 8000, 16000]
    print(report(rates, [1, 2, 4, 8], seconds))


if __name__ == "__main__":
    main()
