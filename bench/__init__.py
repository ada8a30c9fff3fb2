"""`make bench`: the event pipeline measured end to end on this machine.

`python -m bench.pipeline` creates its own database (`portal_bench`), starts the web
server and Celery workers as subprocesses, posts a deterministic, realistic event mix
through `POST /api/v1/events`, and measures throughput, intake latency, event-to-visible
latency at a steady rate, worker memory, the naive one-task-per-event design and raw
PostgreSQL COPY. Results are printed and written into docs/BENCHMARKS.md.
"""
