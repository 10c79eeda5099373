"""Tenant registry: which API key belongs to which DSO/supplier and which grid areas it may see.

A JSON document (local path or ``s3://`` URI; config ``edf_serving.tenant_registry_uri``, env
``EDF_TENANT_REGISTRY`` overrides)::

    {"tenants": [{"tenant_id": "dso-north", "name": "North DSO", "grid_areas": ["fontana-north"],
                  "api_key_ids": ["a1b2c3d4e5"], "api_key_sha256": ["<hex sha256 of the key>"]}]}

API Gateway validates the key against the usage plan and passes ``requestContext.identity``
``apiKeyId`` and ``apiKey``; the Lambda maps either (the id, or the SHA-256 of the value — the
registry never holds a key in clear) to a tenant. No match -> 403, whatever the gateway said.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edf.storage.base import check_grid_area


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    grid_areas: tuple[str, ...]


def key_hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class TenantRegistry:
    def __init__(self, document: dict[str, Any]):
        self.by_key_id: dict[str, Tenant] = {}
        self.by_key_hash: dict[str, Tenant] = {}
        self.tenants: list[Tenant] = []
        for raw in document.get("tenants", []):
            tenant = Tenant(str(raw["tenant_id"]), str(raw.get("name", raw["tenant_id"])),
                            tuple(check_grid_area(a) for a in raw.get("grid_areas", [])))
            self.tenants.append(tenant)
            for kid in raw.get("api_key_ids", []):
                self.by_key_id[str(kid)] = tenant
            for h in raw.get("api_key_sha256", []):
                self.by_key_hash[str(h).lower()] = tenant

    def lookup(self, api_key_id: str | None, api_key: str | None) -> Tenant | None:
        if api_key_id and api_key_id in self.by_key_id:
            return self.by_key_id[api_key_id]
        if api_key:
            return self.by_key_hash.get(key_hash(api_key))
        return None

    @classmethod
    def load(cls, uri: str) -> TenantRegistry:
        if uri.startswith("s3://"):
            import boto3

            bucket, _, key = uri[5:].partition("/")
            text = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        else:
            text = Path(uri).read_text(encoding="utf-8")
        return cls(json.loads(text))


class CachedRegistry:
    """Reload the registry at most every ``ttl`` seconds (a warm Lambda sees new tenants soon)."""

    def __init__(self, uri: str, ttl: float):
        self.uri, self.ttl = uri, ttl
        self._reg: TenantRegistry | None = None
        self._at = 0.0

    def get(self) -> TenantRegistry:
        if self._reg is None or time.monotonic() - self._at > self.ttl:
            self._reg, self._at = TenantRegistry.load(self.uri), time.monotonic()
        return self._reg
