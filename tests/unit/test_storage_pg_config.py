"""PostgreSQL connection settings (issue 14, item 12): TLS verify-full with the shipped RDS CA bundle,
the role's own secret (env EDF_PG_SECRET_ID), read lazily and again on demand after a rotation."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from edf.config import load_config
from edf.storage import open_store
from edf.storage.pg_roles import SecretDsn, is_auth_failure
from edf.storage.postgres import dsn_provider_from_config


@pytest.fixture
def cfg(monkeypatch):
    monkeypatch.delenv("EDF_PG_DSN", raising=False)
    return load_config(None)


def test_default_tls_is_verify_full_with_the_bundled_rds_ca(cfg, monkeypatch):
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.delenv("EDF_PG_SECRET_ID", raising=False)
    params = conninfo_to_dict(dsn_provider_from_config(cfg)())
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == "/var/task/certs/rds-global-bundle.pem"


@mock_aws
def test_role_secret_from_the_environment_is_read_lazily_and_on_refresh(cfg, monkeypatch):
    sm = boto3.client("secretsmanager", region_name="eu-central-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    doc = {"username": "edf_reader", "password": "p1", "host": "db.example", "port": 5432, "dbname": "edf"}
    sm.create_secret(Name="hometech-ml/edf/forecast-db-reader-dev", SecretString=json.dumps(doc))
    monkeypatch.setenv("EDF_PG_SECRET_ID", "hometech-ml/edf/forecast-db-reader-dev")
    source = dsn_provider_from_config(cfg)
    assert isinstance(source, SecretDsn) and source.reads == 0  # open_store does no I/O
    first = conninfo_to_dict(source())
    assert (first["user"], first["password"], first["host"]) == ("edf_reader", "p1", "db.example")
    sm.put_secret_value(SecretId="hometech-ml/edf/forecast-db-reader-dev", SecretString=json.dumps({**doc, "password": "p2"}))
    assert conninfo_to_dict(source())["password"] == "p1"  # cached until told otherwise
    assert conninfo_to_dict(source(refresh=True))["password"] == "p2"
    assert source.reads == 2
    store = open_store(cfg, backend="RDS")
    assert store._conn is None


def test_local_dsn_from_the_environment_wins(cfg, monkeypatch):
    monkeypatch.setenv("EDF_PG_DSN", "host=127.0.0.1 dbname=x sslmode=disable")
    assert dsn_provider_from_config(cfg) == "host=127.0.0.1 dbname=x sslmode=disable"


def test_auth_failure_detection():
    class Err(Exception):
        sqlstate = "28P01"

    assert is_auth_failure(Err("x"))
    assert is_auth_failure(Exception('FATAL:  password authentication failed for user "edf_reader"'))
    assert not is_auth_failure(Exception("could not connect to server: Connection refused"))
