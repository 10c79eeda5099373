"""Tenant registry: which API key belongs to which DSO/supplier and which grid areas it may see.

A JSON document (local path or ``s3://`` URI; config ``edf_serving.tenant_registry_uri``, env
``EDF_TENANT_REGISTRY`` overrides)::

    {"tenants": [{"tenant_id": "dso-north", "name": "North DSO", "grid_areas": ["fontana-north"],
                  "api_key_ids": ["a1b2c3d4e5"], "api_key_sha256": ["<hex sha256 of the key>"]}]}

API Gateway validates the key against the usage plan and passes ``requestContext.identity``
``apiKeyId`` and ``apiKey``; the Lambda maps either (the id, or the SHA-256 of the value — the
registry never holds a key in clear) to a tenant. No match -> 403, whatever the gateway said.

The registry is one document shared by every tenant, so it must not be a single point of failure:

* an entry that breaks a rule is skipped (logged by position and rule, never by content) and
  counted in the ``TenantRegistryRejectedEntries`` metric, which has an alarm; the other tenants
  keep working. A key listed by two tenants is ambiguous and serves neither (also counted);
* a refresh that fails (object missing, unreadable JSON, no valid entry left) keeps the last good
  copy and is counted in ``TenantRegistryRefreshFailures``; with no good copy yet the API answers
  503, never 502;
* nothing from the document ever reaches a caller: errors name no tenant, area or key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edf.serving.metrics import emit_metrics
from edf.storage.base import GRID_AREA_RE, StoreError

log = logging.getLogger(__name__)
TENANT_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KEY_ID_RE = re.compile(r"^[A-Za-z0-9]{1,128}$")
SHA256_RE_ANY_CASE = re.compile(r"^[0-9a-fA-F]{64}$")
REJECTED_METRIC = "TenantRegistryRejectedEntries"
REFRESH_FAILED_METRIC = "TenantRegistryRefreshFailures"
# After a failed refresh, try again this soon (or at the TTL, if shorter) rather than on every request.
RETRY_AFTER_FAILURE_SECONDS = 30.0


class RegistryUnavailable(StoreError):
    """No usable registry (first load failed): the API answers 503 without saying why."""


class RegistryFormatError(ValueError):
    """The document as a whole is unusable (not JSON, no ``tenants`` list, no valid entry)."""


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    grid_areas: tuple[str, ...]


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _strings(raw: dict[str, Any], field: str, pattern: re.Pattern[str]) -> list[str]:
    values = raw.get(field, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and pattern.fullmatch(v) for v in values):
        raise ValueError(f"{field} must be a list of strings matching {pattern.pattern}")
    return list(values)


def parse_entry(raw: Any) -> tuple[Tenant, list[str], list[str]]:
    """One registry entry -> (tenant, key ids, key hashes); ValueError names the broken rule only."""
    if not isinstance(raw, dict):
        raise ValueError("an entry must be an object")
    tenant_id = raw.get("tenant_id")
    if not isinstance(tenant_id, str) or not TENANT_ID_RE.fullmatch(tenant_id):
        raise ValueError(f"tenant_id must match {TENANT_ID_RE.pattern}")
    name = raw.get("name", tenant_id)
    if not isinstance(name, str) or len(name) > 256:
        raise ValueError("name must be a string of at most 256 characters")
    areas = _strings(raw, "grid_areas", GRID_AREA_RE)
    key_ids = _strings(raw, "api_key_ids", KEY_ID_RE)
    hashes = [h.lower() for h in _strings(raw, "api_key_sha256", SHA256_RE_ANY_CASE)]
    return Tenant(tenant_id, name, tuple(dict.fromkeys(areas))), key_ids, hashes


class TenantRegistry:
    def __init__(self, document: Any):
        self.by_key_id: dict[str, Tenant] = {}
        self.by_key_hash: dict[str, Tenant] = {}
        self.tenants: list[Tenant] = []
        self.rejected = 0
        entries = document.get("tenants") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise RegistryFormatError("the registry document has no 'tenants' list")
        claims: dict[tuple[str, str], set[str]] = {}
        for index, raw in enumerate(entries):
            try:
                tenant, key_ids, hashes = parse_entry(raw)
                if any(t.tenant_id == tenant.tenant_id for t in self.tenants):
                    raise ValueError("tenant_id is listed twice")
            except ValueError as exc:
                self.rejected += 1
                log.error("tenant registry entry #%d skipped: %s", index, exc)
                continue
            self.tenants.append(tenant)
            for kind, values in (("id", key_ids), ("sha256", hashes)):
                for value in values:
                    claims.setdefault((kind, value), set()).add(tenant.tenant_id)
        self._index_keys(claims)

    def _index_keys(self, claims: dict[tuple[str, str], set[str]]) -> None:
        """Map each key to its tenant; a key two tenants claim is ambiguous and maps to none."""
        by_id = {t.tenant_id: t for t in self.tenants}
        for (kind, value), owners in claims.items():
            if len(owners) > 1:
                self.rejected += 1
                log.error("tenant registry: an API key (%s) is listed by %d tenants; it serves none", kind, len(owners))
                continue
            target = self.by_key_id if kind == "id" else self.by_key_hash
            target[value] = by_id[next(iter(owners))]

    def lookup(self, api_key_id: str | None, api_key: str | None) -> Tenant | None:
        if isinstance(api_key_id, str) and api_key_id in self.by_key_id:
            return self.by_key_id[api_key_id]
        if isinstance(api_key, str) and api_key:
            return self.by_key_hash.get(key_hash(api_key))
        return None

    @classmethod
    def load(cls, uri: str) -> TenantRegistry:
        """Read and parse the document; RegistryFormatError when nothing in it is usable."""
        if uri.startswith("s3://"):
            import boto3

            bucket, _, key = uri[5:].partition("/")
            text = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        else:
            text = Path(uri).read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RegistryFormatError(f"the registry is not JSON (line {exc.lineno})") from None
        registry = cls(document)
        if registry.rejected and not registry.tenants:
            raise RegistryFormatError(f"no valid entry in the registry ({registry.rejected} rejected)")
        return registry


class CachedRegistry:
    """Reload the registry at most every ``ttl`` seconds; keep the last good copy when a reload fails."""

    def __init__(self, uri: str, ttl: float, namespace: str = "EDF/Serving"):
        self.uri, self.ttl, self.namespace = uri, ttl, namespace
        self._reg: TenantRegistry | None = None
        self._next = 0.0
        self._lock = threading.Lock()

    def get(self) -> TenantRegistry:
        with self._lock:
            now = time.monotonic()
            if self._reg is not None and now < self._next:
                return self._reg
            try:
                registry = TenantRegistry.load(self.uri)
            except Exception as exc:  # missing object, access denied, bad JSON: all tenants must keep working
                emit_metrics(self.namespace, {REFRESH_FAILED_METRIC: 1})
                log.error("tenant registry refresh failed (%s: %s); %s", type(exc).__name__, exc,
                          "keeping the last good copy" if self._reg is not None else "no copy to serve")
                if self._reg is None:
                    raise RegistryUnavailable("the tenant registry is unavailable") from None
                self._next = now + min(self.ttl, RETRY_AFTER_FAILURE_SECONDS)
                return self._reg
            emit_metrics(self.namespace, {REJECTED_METRIC: registry.rejected})
            self._reg, self._next = registry, now + self.ttl
            return registry
