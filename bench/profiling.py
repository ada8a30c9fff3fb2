"""Where the time goes: py-spy on the running processes, or cProfile in-process.

py-spy (`pip install py-spy`; it needs ptrace) samples the real web server and workers
while they work and writes collapsed stacks; `summarize_collapsed` turns those into the
share of samples in which a function is on the stack (inclusive) or on top (self).
Without py-spy, `cprofile_drain` profiles `process_inbox_until_empty` in this process.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Frames worth naming in the summary (substring of "function (file)").
LANDMARKS = [
    ("receive_events (integration/services/intake.py)", "intake: receive_events"),
    ("validate_event (integration/contract.py)", "intake: validate_event"),
    ("_insert_inbox_rows (integration/services/intake.py)", "intake: INSERT .. unnest"),
    ("loads (json/__init__.py)", "intake: json.loads"),
    ("dumps (json/__init__.py)", "json.dumps"),
    ("process_inbox_batch (integration/services/processing.py)", "worker: process_inbox_batch"),
    ("project_batch (visibility/services/projection/__init__.py)", "worker: project_batch"),
    ("project_orders_released (visibility/services/projection/orders.py)", "  order.released"),
    ("project_orders_cancelled (visibility/services/projection/orders.py)", "  order.cancelled"),
    (
        "project_shipments_created (visibility/services/projection/shipments.py)",
        "  shipment.created",
    ),
    ("project_tenders_accepted (visibility/services/projection/shipments.py)", "  tender_accepted"),
    ("project_invoices_posted (visibility/services/projection/invoices.py)", "  invoice.posted"),
    ("project_invoices_paid (visibility/services/projection/invoices.py)", "  invoice.paid"),
    (
        "project_freight_charges (visibility/services/projection/shipments.py)",
        "  freight.charge_posted",
    ),
    ("project_documents (visibility/services/projection/documents.py)", "  document.available"),
    (
        "project_history_events (visibility/services/projection/history.py)",
        "  history (milestones, ETAs, delays)",
    ),
    ("references_replace (visibility/services/references.py)", "  references_replace"),
    ("derive_shipments (visibility/services/derivation.py)", "worker: derive_shipments"),
    ("bulk_update (django/db/models/query.py)", "  Django bulk_update"),
    ("derive_orders (visibility/services/derivation.py)", "worker: derive_orders"),
    ("notifications_record (visibility/services/notifications.py)", "worker: notifications_record"),
    ("_save_states (integration/services/processing.py)", "worker: _save_states"),
    ("release_held_events (integration/services/processing.py)", "worker: release_held_events"),
    ("execute (psycopg/cursor.py)", "waiting on PostgreSQL (psycopg execute)"),
    ("as_sql (django/db/models/sql/compiler.py)", "Django SQL compilation"),
    ("from_db (django/db/models/base.py)", "Django model instantiation"),
]


def py_spy_path() -> str | None:
    candidate = Path(sys.executable).with_name("py-spy")
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def py_spy_works(py_spy: str, pid: int) -> bool:
    result = subprocess.run(
        [py_spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30
    )
    return result.returncode == 0


def py_spy_start(py_spy: str, pid: int, output: Path, *, subprocesses: bool) -> subprocess.Popen:
    command = [
        py_spy,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--output",
        str(output),
        "--rate",
        "100",
        "--nonblocking",
    ]
    if subprocesses:
        command.append("--subprocesses")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def py_spy_stop(process: subprocess.Popen) -> None:
    """py-spy writes its output on SIGINT."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _frames(stack: str) -> list[str]:
    frames = []
    for frame in stack.split(";"):
        # "function (path/to/file.py:123)" -> "function (file.py path tail)"
        name, _, location = frame.partition(" (")
        location = location.rstrip(")").rsplit(":", 1)[0]
        for marker in ("site-packages/", "/work/main/", "lib/python3"):
            if marker in location:
                location = location.split(marker, 1)[1]
        frames.append(f"{name} ({location})")
    return frames


def summarize_collapsed(path: Path) -> dict:
    """Inclusive and self shares of the samples in a py-spy raw (collapsed) file."""
    inclusive: Counter[str] = Counter()
    top: Counter[str] = Counter()
    total = 0
    if not path.exists():
        return {"samples": 0, "landmarks": [], "top_self": []}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        # the first frame is "process <pid>:..." with --subprocesses; skip non-code frames
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            top[frames[-1]] += count

    def share(counter: Counter, key: str) -> float:
        return (
            100.0 * sum(count for frame, count in counter.items() if key in frame) / max(1, total)
        )

    landmarks = [
        (label, round(share(inclusive, key), 1))
        for key, label in LANDMARKS
        if share(inclusive, key) >= 0.5
    ]
    top_self = [
        (frame, round(100.0 * count / max(1, total), 1)) for frame, count in top.most_common(12)
    ]
    return {"samples": total, "landmarks": landmarks, "top_self": top_self}


def cprofile_drain(limit: int = 25) -> tuple[int, str]:
    """Drain the inbox in this process under cProfile; return (projected, top functions)."""
    from integration.services.processing import process_inbox_until_empty

    profiler = cProfile.Profile()
    profiler.enable()
    projected = process_inbox_until_empty()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(limit)
    return projected, text.getvalue()
