"""Least-privilege PostgreSQL roles (issue 14, item 12) on a real server: the API's reader role can
read and cannot write, the load's writer role can write but not change the schema, and a client whose
password was rotated re-reads its secret and reconnects."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import psycopg
import pytest
from moto import mock_aws
from store_contract import ISSUE1, T0

from edf.storage.base import StoreError
from edf.storage.pg_bootstrap import bootstrap_roles
from edf.storage.pg_roles import RoleNames, SecretDsn, is_auth_failure, secrets_manager_loader
from edf.storage.postgres import PostgresForecastStore
from edf.storage.sample import synthetic_rows
from edf_local.postgres import _run, start_local_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
SCHEMA = "edf_roles"
ROLES = RoleNames()


@pytest.fixture(scope="module")
def pg():
    server = start_local_postgres()
    # Password authentication for the two roles (the server otherwise trusts local connections), so
    # a wrong or rotated password is really refused, as on RDS.
    hba = server.datadir / "pg_hba.conf"
    hba.write_text(f"host all {ROLES.reader} 127.0.0.1/32 scram-sha-256\n"
                   f"host all {ROLES.writer} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    res = _run(server.prefix, [str(server.bin_dir / "pg_ctl"), "-D", str(server.datadir), "reload"], timeout=60)
    assert res.returncode == 0, res.stderr
    yield server
    server.stop()


@pytest.fixture(scope="module")
def passwords(pg):
    return bootstrap_roles(pg.dsn, SCHEMA, ROLES)


def role_dsn(pg, role: str, password: str) -> str:
    return f"host=127.0.0.1 port={pg.port} dbname=postgres user={role} password={password} sslmode=disable"


def sample(run_id: str = "edf-2024-01-01"):
    forecasts = synthetic_rows(["b1", "b2", "b3"], "a", run_id, ISSUE1, T0, 24)
    return run_id, forecasts, []


def test_writer_loads_a_run_and_reader_serves_it(pg, passwords):
    writer = PostgresForecastStore(role_dsn(pg, ROLES.writer, passwords[ROLES.writer]), schema=SCHEMA)
    writer.ensure_schema(create=True)  # no DDL right: verifies the bootstrap's tables instead
    run_id, forecasts, recs = sample()
    assert writer.write_run(run_id, forecasts, recs).forecasts_written == len(forecasts)
    writer.close()
    reader = PostgresForecastStore(role_dsn(pg, ROLES.reader, passwords[ROLES.reader]), schema=SCHEMA)
    first = forecasts[0]
    assert reader.get_building(first.building_id).grid_area == first.grid_area
    reader.close()


@pytest.mark.parametrize("statement", [
    "INSERT INTO {s}.buildings (building_id, grid_area, series) VALUES ('x', 'a', ARRAY['consumption'])",
    "UPDATE {s}.forecasts SET yhat = 0",
    "DELETE FROM {s}.forecasts",
    "CREATE TABLE {s}.evil (x int)",
    "CREATE TEMP TABLE scratch (x int)",
    "DROP TABLE {s}.forecasts",
])
def test_reader_cannot_write(pg, passwords, statement):
    denied = (psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction)
    with psycopg.connect(role_dsn(pg, ROLES.reader, passwords[ROLES.reader]), autocommit=True) as conn, \
            pytest.raises(denied):
        conn.execute(statement.format(s=SCHEMA))


def test_reader_store_write_run_is_refused(pg, passwords):
    reader = PostgresForecastStore(role_dsn(pg, ROLES.reader, passwords[ROLES.reader]), schema=SCHEMA)
    with pytest.raises(psycopg.Error):
        reader.write_run(*sample("edf-2024-02-02"))
    reader.close()


@pytest.mark.parametrize("statement", ["CREATE TABLE {s}.evil (x int)", "DROP TABLE {s}.forecasts",
                                       "ALTER TABLE {s}.forecasts ADD COLUMN evil int",
                                       "CREATE ROLE intruder", "CREATE SCHEMA evil"])
def test_writer_cannot_change_the_schema_or_roles(pg, passwords, statement):
    with psycopg.connect(role_dsn(pg, ROLES.writer, passwords[ROLES.writer]), autocommit=True) as conn, \
            pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement.format(s=SCHEMA))


def test_wrong_password_is_refused(pg, passwords):
    with pytest.raises(psycopg.OperationalError) as err:
        psycopg.connect(role_dsn(pg, ROLES.reader, "not-the-password"))
    assert is_auth_failure(err.value)


@mock_aws
def test_rotated_secret_is_reread_after_an_authentication_failure(pg, passwords):
    sm = boto3.client("secretsmanager", region_name="eu-central-1")
    secret = {"username": ROLES.reader, "password": passwords[ROLES.reader], "host": "127.0.0.1",
              "port": pg.port, "dbname": "postgres"}
    arn = sm.create_secret(Name="edf/forecast-db-reader-test", SecretString=json.dumps(secret))["ARN"]
    source = SecretDsn({"sslmode": "disable", "connect_timeout": 5}, secrets_manager_loader(arn, sm))
    store = PostgresForecastStore(source, schema=SCHEMA)
    store.list_buildings(["a"])
    assert source.reads == 1
    # Rotation: the bootstrap sets new passwords, then writes the secret. The cached DSN is stale.
    rotated = bootstrap_roles(pg.dsn, SCHEMA, ROLES)
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**secret, "password": rotated[ROLES.reader]}))
    store.close()  # a new connection (a cold start, a dropped connection) must authenticate again
    store.list_buildings(["a"])
    assert source.reads == 2
    store.close()
    # A static DSN with the old password cannot recover: the error is a StoreError, not a retry loop.
    stale = PostgresForecastStore(role_dsn(pg, ROLES.reader, passwords[ROLES.reader]), schema=SCHEMA)
    with pytest.raises(StoreError, match="password authentication failed"):
        stale.list_buildings(["a"])
    passwords.update(rotated)


@mock_aws
def test_db_bootstrap_lambda_writes_each_roles_secret_without_returning_a_password(pg, passwords, tmp_path, monkeypatch):
    from edf.storage.pg_bootstrap import BootstrapEvent, handle

    cfg_path = tmp_path / "edf_config.yaml"
    text = (Path(__file__).resolve().parents[2] / "config/edf_config.yaml").read_text()
    cfg_path.write_text(text.replace('sslmode: "verify-full"', 'sslmode: "disable"'))  # the local server has no TLS
    sm = boto3.client("secretsmanager", region_name="eu-central-1")
    master = sm.create_secret(Name="rds!db-test", SecretString=json.dumps({"username": "edf", "password": "x"}))["ARN"]
    reader = sm.create_secret(Name="edf/forecast-db-reader-test2")["ARN"]
    writer = sm.create_secret(Name="edf/forecast-db-writer-test2")["ARN"]
    for key, value in {"EDF_CONFIG_URI": str(cfg_path), "EDF_PG_MASTER_SECRET_ID": master, "EDF_PG_READER_SECRET_ID": reader,
                       "EDF_PG_WRITER_SECRET_ID": writer, "EDF_PG_HOST": "127.0.0.1", "EDF_PG_PORT": str(pg.port),
                       "EDF_PG_DBNAME": "postgres", "EDF_PG_SCHEMA": SCHEMA}.items():
        monkeypatch.setenv(key, value)
    result = handle(BootstrapEvent.parse({"action": "bootstrap"}), secretsmanager=sm)
    assert "password" not in json.dumps(result)
    docs = {r: json.loads(sm.get_secret_value(SecretId=a)["SecretString"]) for r, a in (("reader", reader), ("writer", writer))}
    assert docs["reader"]["username"] == ROLES.reader and docs["writer"]["username"] == ROLES.writer
    store = PostgresForecastStore(SecretDsn({"sslmode": "disable"}, secrets_manager_loader(reader, sm)), schema=SCHEMA)
    store.list_buildings(["a"])  # the reader's fresh secret works
    store.close()
    passwords.update({ROLES.reader: docs["reader"]["password"], ROLES.writer: docs["writer"]["password"]})
