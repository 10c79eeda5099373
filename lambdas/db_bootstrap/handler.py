"""db_bootstrap: create the forecast schema and the least-privilege PostgreSQL roles (RDS only)."""

from edf.logging import configure_logging, correlation_id_from_event
from edf.storage.pg_bootstrap import handle_bootstrap


def handler(event, context):
    configure_logging(correlation_id_from_event(event, context), service="edf-db-bootstrap")
    return handle_bootstrap(event, context)
