"""Creates the forecast store's least-privilege PostgreSQL roles (the db_bootstrap Lambda's logic).

Separate from :mod:`edf.storage.pg_roles` (used by every client) because it needs the store's DDL
(:mod:`edf.storage.postgres`) and the master credentials; see that module for the design.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from typing import Any, Literal

from edf.lambda_events import LambdaEvent
from edf.storage.pg_roles import (
    DEFAULT_ROLES,
    RoleNames,
    SecretDsn,
    resolve_ca_bundle,
    secrets_manager_loader,
)
from edf.storage.postgres import PostgresForecastStore

log = logging.getLogger(__name__)


def grant_statements() -> list[str]:
    """The GRANT/REVOKE script; identifiers are filled in with psycopg.sql, never by string formatting."""
    return [
        "REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        "REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC",
        "GRANT CONNECT ON DATABASE {db} TO {reader}, {writer}",
        "GRANT USAGE ON SCHEMA {schema} TO {reader}, {writer}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {reader}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {reader}",
        "ALTER ROLE {reader} SET default_transaction_read_only = on",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {writer}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {writer}",
        "GRANT TEMPORARY ON DATABASE {db} TO {writer}",
    ]


def _ensure_login_role(cur: Any, sql: Any, name: str, password: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    # Passwords cannot be bound parameters in utility statements; sql.Literal quotes them safely.
    cur.execute(sql.SQL(verb + " ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
        sql.Identifier(name), sql.Literal(password)))


def bootstrap_roles(master_dsn: str, schema: str, roles: RoleNames = DEFAULT_ROLES,
                    passwords: dict[str, str] | None = None) -> dict[str, str]:
    """Create the schema (as its owner), the reader and writer roles and their grants.

    Idempotent; every run sets new passwords (generated unless given) and returns them by role.
    """
    import psycopg
    from psycopg import sql

    passwords = passwords or {r: secrets.token_urlsafe(32) for r in (roles.reader, roles.writer)}
    owner = PostgresForecastStore(master_dsn, schema=schema)
    try:
        owner.ensure_schema(create=True)
    finally:
        owner.close()
    with psycopg.connect(master_dsn, autocommit=True) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('edf_forecast_roles'))")
        for name in (roles.reader, roles.writer):
            _ensure_login_role(cur, sql, name, passwords[name])
        cur.execute("SELECT current_database()")
        database = cur.fetchone()[0]
        ids = {"schema": sql.Identifier(schema), "db": sql.Identifier(database),
               "reader": sql.Identifier(roles.reader), "writer": sql.Identifier(roles.writer)}
        for text in grant_statements():
            cur.execute(sql.SQL(text).format(**ids))
    log.info("forecast store roles %s (read) and %s (write) ready in schema %s", roles.reader, roles.writer, schema)
    return passwords


class BootstrapEvent(LambdaEvent):
    """What Terraform's ``aws_lambda_invocation`` sends (``{"action": "bootstrap"}``)."""

    action: Literal["bootstrap"] = "bootstrap"


def handle(event: BootstrapEvent, context: Any = None, secretsmanager: Any = None) -> dict[str, Any]:
    """The db_bootstrap Lambda: roles and grants with the master secret, then each role's secret.

    Environment (Terraform): EDF_PG_MASTER_SECRET_ID (RDS-managed {username, password}),
    EDF_PG_READER_SECRET_ID, EDF_PG_WRITER_SECRET_ID, EDF_PG_HOST, EDF_PG_PORT, EDF_PG_DBNAME,
    EDF_PG_SCHEMA; TLS from the config (verify-full + the bundled RDS CA). Returns no password.
    The database is updated before the secrets: a client that reads the new secret too early
    fails once and re-reads it (SecretDsn), never the other way round.
    """
    import boto3

    from edf.config import load_config

    env = os.environ
    sm = secretsmanager or boto3.client("secretsmanager")
    pg = load_config(env.get("EDF_CONFIG_URI") or None).edf_storage.postgres
    base = {"host": env["EDF_PG_HOST"], "port": int(env.get("EDF_PG_PORT", "5432")), "dbname": env["EDF_PG_DBNAME"],
            "sslmode": pg.sslmode, "connect_timeout": pg.connect_timeout_seconds}
    if pg.sslmode in ("verify-ca", "verify-full"):
        base["sslrootcert"] = resolve_ca_bundle(pg.sslrootcert)
    master = SecretDsn(base, secrets_manager_loader(env["EDF_PG_MASTER_SECRET_ID"], sm))()
    roles = RoleNames()
    schema = env.get("EDF_PG_SCHEMA", pg.schema_name)
    passwords = bootstrap_roles(master, schema, roles)
    for name, secret_id in ((roles.reader, env["EDF_PG_READER_SECRET_ID"]), (roles.writer, env["EDF_PG_WRITER_SECRET_ID"])):
        sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps({
            "engine": "postgres", "username": name, "password": passwords[name], "host": base["host"],
            "port": base["port"], "dbname": base["dbname"]}))
    return {"schema": schema, "reader": roles.reader, "writer": roles.writer, "secrets_updated": 2}
