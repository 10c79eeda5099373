"""Shared fixtures: one Spark session for the whole test session, the loaded config, bundled data."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("EDF_SPARK_SHUFFLE_PARTITIONS", "4")
# Tests never reach real AWS: any client created without the emulator gets fake credentials.
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def spark():
    from edf.features.spark_session import get_spark

    return get_spark()


@pytest.fixture(scope="session")
def cfg():
    from edf.config import load_config

    return load_config()


@pytest.fixture(scope="session")
def homes():
    from edf.data.bundled import load_homes

    return load_homes()


@pytest.fixture(scope="session")
def topology():
    from edf.data.bundled import load_topology

    return load_topology()
