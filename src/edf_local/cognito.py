"""Local residents' identity: the emulator's Cognito user pool (moto ``cognito-idp``), real RS256 tokens.

``edf local token`` signs a resident in through ``InitiateAuth`` against the emulated user pool
(created on first use with the deployed pool's rules: admin-created users only, the building id an
immutable custom attribute the app client cannot write). The local gateway verifies the ID token
the way API Gateway's Cognito authorizer does (:class:`TokenVerifier`): RS256 signature against the
pool's JWKS (fetched from the emulator's ``/.well-known/jwks.json``), issuer = the pool, audience =
the app client, ``token_use = id``, expiry; anything else — no token, a forged or tampered one, a
JSON list where a token should be — is a 401, never a 5xx.

Local only, and it says so: the emulator signs every pool's tokens with one RSA key that ships
with moto, so these tokens prove nothing outside this machine. ``InitiateAuth`` uses
``USER_PASSWORD_AUTH`` with a random password set by the admin call (moto's SRP flow is a stub); the
deployed app client allows SRP only.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
POOL_NAME = "edf-local-residents"
CLIENT_NAME = "edf-local-resident-app"
MAX_TOKEN_CHARS = 8192  # API Gateway caps header sizes; a longer value is not a token
# What the app client may read (into the ID token) and write (nothing identity-bearing): the
# deployed client's lists, mirrored by terraform/modules/rest_api (issue 14, item 1).
READ_ATTRIBUTES = ["email", "email_verified", "zoneinfo"]
WRITE_ATTRIBUTES = ["email"]


class TokenError(ValueError):
    """The token is not one the Cognito authorizer would accept (the gateway answers 401)."""


def _client(endpoint_url: str, region: str) -> Any:
    import boto3

    return boto3.client("cognito-idp", endpoint_url=endpoint_url, region_name=region,
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"))


@dataclass(frozen=True)
class LocalUserPool:
    endpoint_url: str
    region: str
    pool_id: str
    client_id: str

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint_url.rstrip('/')}/{self.pool_id}/.well-known/jwks.json"

    @classmethod
    def ensure(cls, endpoint_url: str, region: str, building_claim: str = "custom:building_id",
               token_hours: int = 24) -> LocalUserPool:
        """Find the local pool and app client on the emulator, creating them on first use."""
        idp = _client(endpoint_url, region)
        pools = [p for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60)
                 for p in page["UserPools"] if p["Name"] == POOL_NAME]
        pool_id = pools[0]["Id"] if pools else idp.create_user_pool(
            PoolName=POOL_NAME, DeletionProtection="ACTIVE",
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            Schema=[{"Name": building_claim.removeprefix("custom:"), "AttributeDataType": "String",
                     "Mutable": False, "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}],
        )["UserPool"]["Id"]
        clients = [c for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
                   if c["ClientName"] == CLIENT_NAME]
        client_id = clients[0]["ClientId"] if clients else idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=CLIENT_NAME, GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=[building_claim, *READ_ATTRIBUTES], WriteAttributes=WRITE_ATTRIBUTES,
            IdTokenValidity=token_hours, TokenValidityUnits={"IdToken": "hours"},
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
        return cls(endpoint_url, region, pool_id, client_id)

    def sign_in(self, building_id: str, timezone: str | None = None,
                building_claim: str = "custom:building_id") -> str:
        """An ID token for the resident of ``building_id``: admin-create the user if needed, sign in."""
        idp = _client(self.endpoint_url, self.region)
        username = f"resident-{building_id}"
        attributes = [{"Name": "zoneinfo", "Value": timezone}] if timezone else []
        try:
            idp.admin_get_user(UserPoolId=self.pool_id, Username=username)
            if attributes:
                idp.admin_update_user_attributes(UserPoolId=self.pool_id, Username=username, UserAttributes=attributes)
        except idp.exceptions.UserNotFoundException:
            idp.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": building_claim, "Value": building_id}, *attributes])
        password = secrets.token_urlsafe(24) + "aA1!"  # known to this call only
        idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)
        auth = idp.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})
        return auth["AuthenticationResult"]["IdToken"]


class TokenVerifier:
    """What API Gateway's Cognito authorizer checks, with a maintained JOSE library (joserfc)."""

    def __init__(self, pool: LocalUserPool, jwks_ttl: float = 300.0, leeway: int = 0):
        self.pool, self.jwks_ttl, self.leeway = pool, jwks_ttl, leeway
        self._keys: Any = None
        self._at = 0.0
        self._lock = threading.Lock()

    def _key_set(self) -> Any:
        import urllib.request

        from joserfc.jwk import KeySet

        with self._lock:
            if self._keys is None or time.monotonic() - self._at > self.jwks_ttl:
                with urllib.request.urlopen(self.pool.jwks_url, timeout=10) as resp:  # noqa: S310 - the emulator
                    document = json.loads(resp.read())
                self._keys, self._at = KeySet.import_key_set(document), time.monotonic()
            return self._keys

    def verify(self, token: Any, now: float | None = None) -> dict[str, str]:
        """Claims as the authorizer passes them (all values strings); :class:`TokenError` otherwise."""
        from joserfc import jwt
        from joserfc.errors import JoseError

        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise TokenError("malformed token")
        keys = self._key_set()  # outside the try: an unreachable emulator is not the caller's fault
        try:
            decoded = jwt.decode(token, keys, algorithms=["RS256"])
            claims = decoded.claims
            if not isinstance(claims, dict):
                raise TokenError("malformed claims")
            registry = jwt.JWTClaimsRegistry(
                now=int(time.time() if now is None else now), leeway=self.leeway,
                iss={"essential": True, "value": self.pool.issuer},
                aud={"essential": True, "value": self.pool.client_id},
                token_use={"essential": True, "value": "id"}, exp={"essential": True})
            registry.validate(claims)
        except TokenError:
            raise
        except (JoseError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise TokenError(f"token refused ({type(exc).__name__})") from None
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in claims.items()}


def write_state(path: str, pool: LocalUserPool, base_url: str) -> Path:
    """Record the emulator and pool (0600) so `edf local token` in another shell can sign in."""
    p = Path(os.path.expanduser(path))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"endpoint_url": pool.endpoint_url, "region": pool.region, "user_pool_id": pool.pool_id,
                   "client_id": pool.client_id, "base_url": base_url}, fh)
    return p


def read_state(path: str) -> dict[str, Any] | None:
    p = Path(os.path.expanduser(path))
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
