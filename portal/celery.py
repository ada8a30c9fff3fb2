"""The Celery application: workers project the inbox; beat runs the sweeps (inbox, clock)."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging, worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def log_as_the_web_server_does(**kwargs: object) -> None:
    """The worker and beat log through settings.LOGGING (JSON lines with `LOG_FORMAT=json`,
    core/logs.py) instead of Celery replacing the root logger's handlers with its own."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@worker_process_shutdown.connect
def forget_metrics_of_the_exiting_child(pid: int | None = None, **kwargs: object) -> None:
    """With PROMETHEUS_MULTIPROC_DIR shared with the web server (docs/OPERATIONS.md,
    "Metrics"), a prefork child that exits drops its live gauges from `/metrics`; its
    counters stay summed in."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@app.on_after_finalize.connect
def schedule_inbox_sweep(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from integration.enqueue import SWEEP_INBOX

    sender.add_periodic_task(
        settings.INBOX_SWEEP_SECONDS,
        sender.signature(SWEEP_INBOX),
        name="sweep the inbox for unclaimed events",
    )


@app.on_after_finalize.connect
def schedule_clock_sweep(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from visibility.enqueue import SWEEP_CLOCK

    sender.add_periodic_task(
        settings.CLOCK_SWEEP_SECONDS,
        sender.signature(SWEEP_CLOCK),
        name="re-evaluate shipments whose clock-driven state is due",
    )


@app.on_after_finalize.connect
def schedule_change_stamping(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from visibility.enqueue import STAMP_CHANGE_POSITIONS

    sender.add_periodic_task(
        settings.CHANGE_STAMP_SECONDS,
        sender.signature(STAMP_CHANGE_POSITIONS),
        name="give committed changes their feed positions",
    )


@app.on_after_finalize.connect
def schedule_change_pruning(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from visibility.enqueue import PRUNE_CHANGES

    sender.add_periodic_task(
        settings.CHANGE_PRUNE_SECONDS,
        sender.signature(PRUNE_CHANGES),
        name="prune change-feed rows older than the retention",
    )


@app.on_after_finalize.connect
def schedule_invoices_overdue(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from visibility.enqueue import RECORD_INVOICES_OVERDUE

    sender.add_periodic_task(
        settings.INVOICE_OVERDUE_SWEEP_SECONDS,
        sender.signature(RECORD_INVOICES_OVERDUE),
        name="record the invoices that turned overdue in the change feed",
    )


@app.on_after_finalize.connect
def schedule_archive_and_retention(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    from integration.enqueue import APPLY_RETENTION, ARCHIVE_EVENTS

    sender.add_periodic_task(
        settings.ARCHIVE_SWEEP_SECONDS,
        sender.signature(ARCHIVE_EVENTS),
        name="archive and delete old processed and rejected events",
    )
    sender.add_periodic_task(
        settings.RETENTION_SWEEP_SECONDS,
        sender.signature(APPLY_RETENTION),
        name="delete closed shipments past their tenant's retention",
    )
