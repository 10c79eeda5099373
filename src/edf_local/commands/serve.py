"""``edf serve`` (local APIs + resident page) and ``edf local token`` (a resident token)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

from edf_local.commands.group import local_group


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve the B2B/B2C APIs and the resident page on localhost",
        description="Run the B2B and B2C API handlers behind a local API Gateway stand-in (x-api-key and "
        "Cognito-token checks emulated) and serve the resident web page. The store is the local default "
        "backend (edf_storage.local_backend; DynamoDB on AWS_ENDPOINT_URL). Without AWS_ENDPOINT_URL an "
        "in-process AWS emulator is started and filled with a sample run built from the bundled data.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default edf_serving.local_port; 0 = any free port)")
    p.add_argument("--backend", choices=["DYNAMODB", "RDS", "TIMESTREAM"], default=None,
                   help="forecast store backend (default edf_storage.local_backend)")
    p.add_argument("--sample", action="store_true",
                   help="write a sample run (bundled homes' recent hourly profile) before serving; "
                   "implied when the in-process emulator is started")
    p.add_argument("--config", default=None, help="config path or s3:// URI (default: the repository config)")
    p.set_defaults(func=_serve)

    local = local_group(sub)
    t = local.add_parser("token", help="sign a resident in on the emulator's Cognito user pool and print the ID token",
                         description="Sign the resident of a building in through Cognito InitiateAuth on the AWS "
                         "emulator's user pool (pool, app client and the admin-created user with custom:building_id "
                         "are created on first use) and print the RS256 ID token `edf serve` accepts. Use it as "
                         "`Authorization: Bearer TOKEN` or in the page URL. The emulator is --endpoint-url, else "
                         "AWS_ENDPOINT_URL, else the one a running `edf serve` recorded (edf_serving.local_state_path). "
                         "Tokens last 1 hour on the emulator.")
    t.add_argument("--building", required=True, help="building id, e.g. citylearn-01")
    t.add_argument("--timezone", default=None, help="IANA zone for the resident's local day (zoneinfo attribute)")
    t.add_argument("--endpoint-url", default=None, help="AWS emulator URL (default: AWS_ENDPOINT_URL or `edf serve`'s)")
    t.add_argument("--config", default=None, help="config path or s3:// URI")
    t.set_defaults(func=_token)


def _token(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from edf.cli import CommandError
    from edf.config import load_config
    from edf.serving.params import ApiError
    from edf_local.gateway import local_token

    try:
        print(local_token(load_config(args.config), args.building, args.timezone, endpoint_url=args.endpoint_url))
    except ApiError as exc:
        raise CommandError(exc.message) from None
    except LookupError as exc:
        raise CommandError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise CommandError(f"cannot sign in on the AWS emulator: {exc} (is `edf serve` still running?)") from None
    return 0


def _serve(args: argparse.Namespace) -> int:
    from edf.cli import CommandError
    from edf.config import load_config
    from edf.storage import StoreError, open_store
    from edf_local.cognito import write_state
    from edf_local.gateway import print_usage, start_server

    cfg = load_config(args.config)
    backend = args.backend or cfg.edf_storage.local_backend
    moto_server = None
    sample = args.sample
    if backend in ("DYNAMODB", "TIMESTREAM") and not os.environ.get("AWS_ENDPOINT_URL"):
        if backend == "TIMESTREAM":
            raise CommandError("Timestream queries are not available on the AWS emulator; "
                               "use --backend DYNAMODB or RDS locally")
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto_server.start()
        host, port = moto_server.get_host_and_port()
        os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
        for var, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ.setdefault(var, value)
        sample = True
        print(f"started an in-process AWS emulator at {os.environ['AWS_ENDPOINT_URL']}")
    if backend == "RDS" and not os.environ.get(cfg.edf_storage.postgres.dsn_env):
        raise CommandError(f"the RDS backend needs a PostgreSQL DSN in ${cfg.edf_storage.postgres.dsn_env}")
    try:
        store = open_store(cfg, backend=backend, local=True)
        store.ensure_schema(create=True)
        start = None
        if sample:
            from edf.storage.sample import sample_run

            now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
            today = now.replace(hour=0)
            start = today + dt.timedelta(days=1)  # what the printed examples ask for: tomorrow
            forecasts, recs = sample_run("local-sample", now, today, hours=72)
            res = store.write_run("local-sample", forecasts, recs)
            print(f"wrote a sample run: {res.forecasts_written} forecasts, "
                  f"{res.recommendations_written} recommendations ({res.backend})")
        port = cfg.edf_serving.local_port if args.port is None else args.port
        server, base_url = start_server(cfg, host=args.host, port=port, store=store)
    except (StoreError, OSError, ValueError) as exc:
        raise CommandError(f"cannot start the local server: {exc}") from None
    write_state(cfg.edf_serving.local_state_path, server.user_pool, base_url)
    print_usage(base_url, server=server, start=start)
    print("Ctrl-C stops the server.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
        if moto_server is not None:
            moto_server.stop()
    return 0
