"""Least-privilege PostgreSQL roles for the forecast store, and credentials that survive rotation.

Two login roles replace the RDS master user in the Lambdas:

* the **reader** (``edf_reader``; the B2B/B2C API Lambdas and the accuracy monitor): ``USAGE`` on
  the store's schema and ``SELECT`` on its tables (present and future), read-only by default
  (``default_transaction_read_only``), no ``TEMP``, no ``CREATE``;
* the **writer** (``edf_writer``; LoadForecastsToDB): ``SELECT, INSERT, UPDATE, DELETE`` on the
  tables and ``TEMP`` on the database (the load stages rows in temporary tables), no DDL.

Who creates them: a one-shot migration Lambda (``lambdas/db_bootstrap``), the only code that
reads the RDS-managed master secret (:mod:`edf.storage.pg_bootstrap`). Terraform invokes it after creating the two empty role
secrets; it creates the schema (as the owner), the roles and their grants, generates a password
per role and stores ``{username, password, host, port, dbname}`` in that role's secret. Running it
again is safe and rotates both passwords. The master secret never reaches a serving Lambda.

Rotation: :class:`SecretDsn` builds the libpq DSN from a role's secret and is asked again after an
authentication failure, so a client whose cached password was rotated reconnects with the new one.
TLS: ``sslmode=verify-full`` with the RDS CA bundle shipped in the zip (``certs/``; docs/serving.md).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AUTH_FAILURE_SQLSTATES = frozenset({"28P01", "28000"})  # invalid_password, invalid_authorization_specification
RDS_CA_BUNDLE = "certs/rds-global-bundle.pem"  # inside the Lambda zip (edf.packaging --rds-ca)


@dataclass(frozen=True)
class RoleNames:
    reader: str = "edf_reader"
    writer: str = "edf_writer"


DEFAULT_ROLES = RoleNames()


def is_auth_failure(exc: BaseException) -> bool:
    """True for a rejected password/user (what a rotated secret looks like to a cached client)."""
    state = getattr(exc, "sqlstate", None)
    if state in AUTH_FAILURE_SQLSTATES:
        return True
    text = str(exc).lower()
    return "password authentication failed" in text or "authentication failed for user" in text


def resolve_ca_bundle(path: str | None) -> str | None:
    """Absolute path of the CA bundle: as given, or under the Lambda task root / current directory."""
    if not path:
        return None
    p = Path(path)
    if not p.is_absolute():
        p = Path(os.environ.get("LAMBDA_TASK_ROOT", ".")) / p
    return str(p)


class SecretDsn:
    """A DSN provider: ``provider()`` returns the current DSN, re-reading the secret when asked.

    The first call reads the secret; later calls return the cached DSN unless ``refresh=True``
    (after an authentication failure). ``loader`` returns the secret JSON (Secrets Manager).
    """

    def __init__(self, base: dict[str, Any], loader: Callable[[], dict[str, Any]] | None):
        self.base, self.loader = dict(base), loader
        self._dsn: str | None = None
        self.reads = 0

    def __call__(self, refresh: bool = False) -> str:
        if self._dsn is None or refresh:
            from psycopg.conninfo import make_conninfo

            params = dict(self.base)
            if self.loader is not None:
                secret = self.loader()
                self.reads += 1
                params.update({k: secret[k2] for k, k2 in (("user", "username"), ("password", "password"),
                                                           ("host", "host"), ("port", "port"), ("dbname", "dbname"))
                               if secret.get(k2) not in (None, "")})
            self._dsn = make_conninfo(**{k: v for k, v in params.items() if v is not None})
        return self._dsn


def secrets_manager_loader(secret_id: str, client: Any = None) -> Callable[[], dict[str, Any]]:
    def load() -> dict[str, Any]:
        import boto3

        sm = client or boto3.client("secretsmanager")
        return json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])

    return load
