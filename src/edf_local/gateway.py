"""Local API Gateway stand-in: HTTP requests -> API Gateway REST proxy events -> the same handlers.

What it emulates, and only that:

* the B2B usage-plan check: ``x-api-key`` must be a key of a registered tenant, else 403 (as the
  gateway would, with the body the OpenAPI document's gateway responses define); the Lambda then
  does its own tenant lookup from ``requestContext.identity.apiKey``;
* the Cognito authorizer for ``/v1/me/*``: the ``Authorization`` token (optionally ``Bearer``-
  prefixed) is an RS256 ID token of the emulator's user pool, verified against the pool's JWKS
  (:mod:`edf_local.cognito`), and its claims are put in ``requestContext.authorizer.claims``,
  else 401;
* the static resident page under ``/app/`` and the OpenAPI document at ``/openapi.yaml``.

``start_server(cfg)`` runs it in a daemon thread (used by ``edf serve`` and at the end of
``edf demo``); ``print_usage`` prints a ready-to-paste ``curl`` per API and the page's URL. Local
tenants get random API keys on every start (printed, never well-known), and binding beyond
loopback prints a warning: these keys and tokens protect nothing on a shared network.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import mimetypes
import os
import re
import secrets
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, quote, unquote, urlsplit

from edf.serving import b2b, b2c
from edf.serving.api import Dependencies, set_dependencies
from edf.serving.tenants import CachedRegistry, TenantRegistry, key_hash
from edf.serving.zones import TopologyZones
from edf_local.cognito import LocalUserPool, TokenError, TokenVerifier, read_state
from edf_local.limits import LAMBDA_PAYLOAD_BYTES, payload_bytes

log = logging.getLogger(__name__)
SERVING_DIR = Path(b2b.__file__).resolve().parent  # the page and the OpenAPI document ship with edf.serving
STATIC_DIR = SERVING_DIR / "static"
OPENAPI_PATH = SERVING_DIR / "openapi.yaml"

# API Gateway resources (the OpenAPI paths) and the Lambda behind each.
ROUTES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^/v1/buildings$"), "/v1/buildings", "b2b"),
    (re.compile(r"^/v1/buildings/(?P<building_id>[^/]+)/forecast$"), "/v1/buildings/{building_id}/forecast", "b2b"),
    (re.compile(r"^/v1/portfolio/forecast$"), "/v1/portfolio/forecast", "b2b"),
    (re.compile(r"^/v1/portfolio/recommendations$"), "/v1/portfolio/recommendations", "b2b"),
    (re.compile(r"^/v1/me/solar-vs-demand$"), "/v1/me/solar-vs-demand", "b2c"),
]
PAGE_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'")


class _Context:
    """The bits of a Lambda context object powertools may read."""

    function_name = "edf-local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:local:000000000000:function:edf-local"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], deps: Dependencies, verifier: TokenVerifier,
                 api_keys: dict[str, str]):
        super().__init__(address, _Handler)
        self.deps, self.verifier, self.api_keys = deps, verifier, api_keys
        self.user_pool = verifier.pool


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    return status, {"Content-Type": "application/json"}, body


class _Handler(BaseHTTPRequestHandler):
    server: LocalApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler API
        log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, headers: dict[str, str], body: bytes, head: bool = False) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._dispatch("OPTIONS")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(min(length, 1 << 20))
            status, headers, body = self._route(method)
        except Exception:  # the emulator must answer like a gateway, never drop the connection
            log.exception("local server failed on %s %s", method, self.path)
            status, headers, body = _error(502, "bad_gateway", "Internal server error")
        self._send(status, headers, body, head=method == "HEAD")

    def _route(self, method: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if method in ("GET", "HEAD") and not path.startswith("/v1/"):
            return self._static(path)
        for pattern, resource, api in ROUTES:  # noqa: B007 - the matching route is used below
            match = pattern.match(path)
            if match:
                break
        else:
            # API Gateway answers unknown resources with 403 MissingAuthenticationToken.
            return _error(403, "forbidden", "Missing Authentication Token")
        if method != "GET":
            return _error(403, "forbidden", "Missing Authentication Token")
        identity: dict[str, Any] = {"sourceIp": self.client_address[0], "userAgent": self.headers.get("User-Agent"),
                                    "apiKey": None, "apiKeyId": None}
        authorizer = None
        if api == "b2b":
            key = self.headers.get("x-api-key")
            if not key or self.server.deps.tenants().lookup(None, key) is None:
                return _error(403, "forbidden", "Forbidden")
            identity["apiKey"] = key
        else:
            raw = (self.headers.get("Authorization") or "").strip()
            token = raw[7:].strip() if raw.lower().startswith("bearer ") else raw
            try:
                claims = self.server.verifier.verify(token)
            except TokenError:
                return _error(401, "unauthorized", "Unauthorized")
            authorizer = {"claims": claims}
        query = parse_qs(parts.query, keep_blank_values=True)
        event = {
            "resource": resource, "path": path, "httpMethod": method,
            "headers": dict(self.headers.items()),
            "multiValueHeaders": {k: self.headers.get_all(k) for k in self.headers},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {k: v for k, v in match.groupdict().items()} or None,
            "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource, "httpMethod": method, "path": f"/local{path}",
                               "stage": "local", "requestId": str(uuid.uuid4()), "identity": identity,
                               "authorizer": authorizer, "requestTimeEpoch": int(dt.datetime.now().timestamp() * 1000)},
        }
        handler = b2b.handle if api == "b2b" else b2c.handle
        resp = handler(event, _Context())
        size = payload_bytes(resp)
        if size > LAMBDA_PAYLOAD_BYTES:  # Lambda refuses the response; API Gateway answers 502
            log.error("%s %s: Lambda response of %d bytes exceeds the 6 MB limit (AWS would answer 502)",
                      method, path, size)
            return _error(502, "bad_gateway", "Internal server error")
        headers = {k: v for k, v in (resp.get("headers") or {}).items()}
        for k, values in (resp.get("multiValueHeaders") or {}).items():
            headers.setdefault(k, ", ".join(values))
        body = resp.get("body") or ""
        return int(resp["statusCode"]), headers, body.encode() if isinstance(body, str) else body

    def _static(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path in ("/", ""):
            return 302, {"Location": "/app/"}, b""
        if path == "/openapi.yaml":
            return 200, {"Content-Type": "application/yaml"}, OPENAPI_PATH.read_bytes()
        if path.startswith("/app/"):
            name = path[len("/app/"):] or "index.html"
            target = (STATIC_DIR / name).resolve()
            if STATIC_DIR in target.parents and target.is_file():
                ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                return 200, {"Content-Type": ctype, "Content-Security-Policy": PAGE_CSP,
                             "Cache-Control": "no-store"}, target.read_bytes()
        return _error(404, "not_found", "no such resource")


def _registry(cfg: Any, grid_areas: list[str] | None) -> tuple[Any, dict[str, str]]:
    import os

    uri = os.environ.get("EDF_TENANT_REGISTRY") or cfg.edf_serving.tenant_registry_uri
    if uri:
        return CachedRegistry(uri, cfg.edf_serving.tenant_registry_cache_seconds), {}
    if grid_areas is None:
        from edf.data.bundled import load_topology

        grid_areas = sorted(load_topology()["grid_area"].astype(str).unique())
    document, keys = local_registry(grid_areas)
    return TenantRegistry(document), keys


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; 0.0.0.0 / :: (every interface) are not."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(host: str) -> None:
    if not is_loopback(host):
        message = (f"WARNING: the local API server binds {host}, beyond loopback: anyone who can reach this "
                   "machine can call it. Its tokens are signed with the emulator's public key and its API keys "
                   "are printed on the console; use 127.0.0.1 unless you know the network is yours.")
        log.warning(message)
        print(message, file=sys.stderr, flush=True)


def start_server(cfg: Any, host: str = "127.0.0.1", port: int = 0, *, store: Any | None = None,
                 grid_areas: list[str] | None = None, endpoint_url: str | None = None,
                 zones: Any | None = None) -> tuple[LocalApiServer, str]:
    """Serve the APIs and the resident page in a daemon thread; returns ``(server, base_url)``.

    ``store`` defaults to ``open_store(cfg, local=True)`` (DynamoDB on ``AWS_ENDPOINT_URL`` by
    default), whose tables are created when missing. ``endpoint_url`` (default ``AWS_ENDPOINT_URL``)
    is the AWS emulator whose Cognito user pool issues and signs residents' tokens. Tenants come from
    the configured registry or, when none is configured, one local tenant per grid area
    (``grid_areas``, default: the bundled topology's) with a random key made for this server
    (``server.api_keys``). Residents' fallback time zones come from ``zones`` (default: the bundled
    topology). Stop with ``server.shutdown()``.
    """
    from edf.storage import open_store

    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint_url:
        raise ValueError("the local API needs the AWS emulator (AWS_ENDPOINT_URL) for its Cognito user pool")
    if store is None:
        store = open_store(cfg, local=True)
        store.ensure_schema(create=True)
    registry, api_keys = _registry(cfg, grid_areas)
    if zones is None:
        from edf.data.bundled import load_topology

        zones = TopologyZones(load_topology())
    set_dependencies(deps := Dependencies(cfg, store, registry, zones))
    pool = LocalUserPool.ensure(endpoint_url, cfg.aws_region, cfg.edf_serving.building_claim,
                                cfg.edf_serving.local_token_ttl_hours)
    _warn_if_exposed(host)
    server = LocalApiServer((host, port), deps, TokenVerifier(pool), api_keys)
    thread = threading.Thread(target=server.serve_forever, name="edf-local-api", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    shown = "localhost" if bound_host in ("127.0.0.1", "0.0.0.0") else bound_host
    return server, f"http://{shown}:{bound_port}"


def bundled_timezone(building_id: str) -> str | None:
    """The building's IANA timezone from the bundled topology (None when it is not a bundled building)."""
    try:
        from edf.data.bundled import load_topology

        topo = load_topology()
        match = topo.loc[topo["building_id"].astype(str) == building_id, "timezone"]
        return str(match.iloc[0]) if len(match) else None
    except Exception:  # a convenience default only; the token works without it (UTC days)
        return None


def local_token(cfg: Any, building_id: str, timezone: str | None = None, *,
                endpoint_url: str | None = None) -> str:
    """A resident's ID token from the emulator's user pool (what `edf local token` prints).

    The emulator is ``endpoint_url``, else ``AWS_ENDPOINT_URL``, else the one a running `edf serve`
    recorded in ``edf_serving.local_state_path``. ``timezone`` (the OIDC ``zoneinfo`` attribute,
    admin-set) defaults to the bundled topology's zone for bundled buildings.
    """
    from edf.serving.params import building_id as check

    check(building_id)
    state = read_state(cfg.edf_serving.local_state_path) or {}
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or state.get("endpoint_url")
    if not endpoint_url:
        raise LookupError("no AWS emulator to sign in with: start `edf serve` (or `edf demo`), or set "
                          "AWS_ENDPOINT_URL / --endpoint-url")
    region = state.get("region") if endpoint_url == state.get("endpoint_url") else None
    pool = LocalUserPool.ensure(endpoint_url, region or cfg.aws_region, cfg.edf_serving.building_claim,
                                cfg.edf_serving.local_token_ttl_hours)
    return pool.sign_in(building_id, timezone or bundled_timezone(building_id), cfg.edf_serving.building_claim)


def print_usage(base_url: str, *, server: LocalApiServer | None = None, cfg: Any | None = None,
                building_id: str | None = None, grid_area: str | None = None, api_key: str | None = None,
                token: str | None = None, start: dt.datetime | None = None, hours: int = 24,
                date: dt.date | None = None, timezone: str | None = None, out: TextIO | None = None) -> None:
    """Print a ready-to-paste curl for each API and the resident page's URL.

    Without arguments it picks the first local tenant and one of its buildings, a token for that
    building, and tomorrow (UTC) as the day; pass ``start``/``date`` to point at the forecasts a
    run actually wrote (e.g. the demo's issue day + 1).
    """
    out = out or sys.stdout
    if server is not None:
        cfg = cfg or server.deps.cfg
        if api_key is None and server.api_keys:
            tenant_id = sorted(server.api_keys)[0]
            if grid_area is None:
                grid_area = tenant_id.removeprefix("tenant-")
            api_key = server.api_keys.get(f"tenant-{grid_area}", server.api_keys[tenant_id])
        if building_id is None and grid_area:
            try:
                found = server.deps.store.list_buildings([grid_area])
                building_id = found[0].building_id if found else None
            except Exception:  # printing help must not fail on an empty or unreachable store
                building_id = None
    building_id = building_id or "BUILDING_ID"
    if token is None and building_id != "BUILDING_ID":
        if server is not None:
            token = server.user_pool.sign_in(building_id, timezone or bundled_timezone(building_id),
                                             (cfg or server.deps.cfg).edf_serving.building_claim)
        elif cfg is not None:
            token = local_token(cfg, building_id, timezone)
    day = date or (start.date() if start else dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1))
    start = start or dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=hours)
    s, e = quote(start.strftime("%Y-%m-%dT%H:%M:%SZ")), quote(end.strftime("%Y-%m-%dT%H:%M:%SZ"))
    key = api_key or "YOUR_API_KEY"
    tok = token or "$(edf local token --building BUILDING_ID)"
    area_q = f"grid_area={quote(grid_area)}&" if grid_area else ""
    lines = [
        f"EDF APIs on {base_url} (OpenAPI: {base_url}/openapi.yaml)",
        "  # B2B: your buildings",
        f"  curl -s -H 'x-api-key: {key}' '{base_url}/v1/buildings'",
        "  # B2B: one building's forecast (consumption and solar, hourly, with interval)",
        f"  curl -s -H 'x-api-key: {key}' "
        f"'{base_url}/v1/buildings/{quote(building_id)}/forecast?start={s}&end={e}'",
        "  # B2B: portfolio aggregate",
        f"  curl -s -H 'x-api-key: {key}' '{base_url}/v1/portfolio/forecast?{area_q}start={s}&end={e}'",
        "  # B2B: portfolio recommendations",
        f"  curl -s -H 'x-api-key: {key}' "
        f"'{base_url}/v1/portfolio/recommendations?{area_q}date={day.isoformat()}'",
        "  # B2C: a resident's solar vs demand (token from `edf local token --building ID`)",
        f"  curl -s -H \"Authorization: Bearer {tok}\" "
        f"'{base_url}/v1/me/solar-vs-demand?date={day.isoformat()}'",
        f"Resident page: {base_url}/app/#date={day.isoformat()}&token={token or 'TOKEN'}",
        "  (resident tokens last 1 hour on the emulator; `edf local token --building ID` makes a new one)",
    ]
    if server is not None and server.api_keys:
        lines.append("API keys of this server (random, new at every start):")
        lines += [f"  {tenant}: {value}" for tenant, value in sorted(server.api_keys.items())]
    print("\n".join(lines), file=out, flush=True)


def local_registry(grid_areas: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Local-only tenants, one per grid area, each with a random key made now (never guessable).

    Returns the registry document (key hashes only) and ``{tenant_id: api_key}`` (the local server
    prints the keys).
    """
    tenants, keys = [], {}
    for area in sorted(set(grid_areas)):
        tid, key = f"tenant-{area}", f"edf-local-{secrets.token_urlsafe(24)}"
        tenants.append({"tenant_id": tid, "name": f"Local tenant for {area}", "grid_areas": [area],
                        "api_key_ids": [], "api_key_sha256": [key_hash(key)]})
        keys[tid] = key
    return {"tenants": tenants}, keys
