"""Each pytest-xdist worker of `make test` gets Redis databases and ports no other worker
uses (tests/parallel_workers.py), from CI's variables as from a developer's."""

from __future__ import annotations

import os

import pytest
from django.conf import settings

from tests.parallel_workers import worker_environment


def test_two_workers_on_ci_variables_use_databases_0_to_3():
    run = {"REDIS_URL": "redis://127.0.0.1:6379/0"}

    first, second = (worker_environment(run, index, 2) for index in (0, 1))

    assert first == {
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CACHE_REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    assert second == {
        "REDIS_URL": "redis://127.0.0.1:6379/2",
        "CACHE_REDIS_URL": "redis://127.0.0.1:6379/3",
    }


def test_an_explicit_cache_database_and_the_port_ranges_are_shared_out():
    run = {
        "REDIS_URL": "redis://127.0.0.1:6380/4",
        "CACHE_REDIS_URL": "redis://127.0.0.1:6380/5",
        "TEST_PORT_RANGE": "9400-9499",
        "REPLICA_TEST_BASE_PORT": "9500",
    }

    first, second = (worker_environment(run, index, 2) for index in (0, 1))

    assert (first["REDIS_URL"], first["CACHE_REDIS_URL"]) == (
        "redis://127.0.0.1:6380/4",
        "redis://127.0.0.1:6380/5",
    )
    assert (second["REDIS_URL"], second["CACHE_REDIS_URL"]) == (
        "redis://127.0.0.1:6380/6",
        "redis://127.0.0.1:6380/7",
    )
    assert (first["TEST_PORT_RANGE"], second["TEST_PORT_RANGE"]) == ("9400-9449", "9450-9499")
    assert (first["REPLICA_TEST_BASE_PORT"], second["REPLICA_TEST_BASE_PORT"]) == ("9500", "9503")


def test_the_embedded_redis_socket_is_shared_out_by_query_parameters():
    run = {"REDIS_URL": "redis+socket:///checkout/.local/redis/redis.sock"}

    second = worker_environment(run, 1, 2)

    assert second == {
        "REDIS_URL": "redis+socket:///checkout/.local/redis/redis.sock?virtual_host=2",
        "CACHE_REDIS_URL": "unix:///checkout/.local/redis/redis.sock?db=3",
    }


def test_a_worker_reads_its_own_variables_into_the_settings():
    """Under `make test` the settings read the worker's variables, not the run's."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        pytest.skip("only under pytest -n (make test)")
    assert os.environ["REDIS_URL"] == settings.REDIS_URL
    assert os.environ["CACHE_REDIS_URL"] == settings.CACHES["default"]["LOCATION"]
