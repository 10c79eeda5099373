"""Local stand-in for the Cognito user pool: HS256 JWTs signed with a key on this machine.

Only ``edf serve`` / ``edf local token`` use this. In AWS the Cognito authorizer verifies the
user pool's RS256 tokens and hands the claims to the B2C Lambda; locally the server verifies these
tokens and hands over the same claims, so the Lambda code cannot tell the difference.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

ISSUER = "edf-local"
AUDIENCE = "edf-resident-app"


class TokenError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(path: str) -> bytes:
    """The local signing key, created (0600) on first use so `edf serve` and `edf local token` agree."""
    p = Path(os.path.expanduser(path))
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(p.read_text().strip())


def issue_token(key: bytes, building_id: str, ttl_seconds: int, timezone: str | None = None,
                building_claim: str = "custom:building_id", now: float | None = None) -> str:
    now = time.time() if now is None else now
    claims: dict[str, Any] = {"sub": f"resident-{building_id}", building_claim: building_id, "token_use": "id",
                              "iss": ISSUER, "aud": AUDIENCE, "iat": int(now), "exp": int(now + ttl_seconds)}
    if timezone:
        claims["zoneinfo"] = timezone
    header = {"alg": "HS256", "typ": "JWT", "kid": ISSUER}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(sig)}"


def verify_token(key: bytes, token: str, now: float | None = None) -> dict[str, str]:
    """Claims as the Cognito authorizer passes them (all values strings); TokenError otherwise."""
    try:
        head, body, sig = token.split(".")
        header = json.loads(_unb64(head))
        claims = json.loads(_unb64(body))
        given = _unb64(sig)
    except (ValueError, json.JSONDecodeError) as exc:
        raise TokenError("malformed token") from exc
    if header.get("alg") != "HS256":
        raise TokenError("unsupported token algorithm")
    expected = hmac.new(key, f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise TokenError("bad token signature")
    now = time.time() if now is None else now
    if not isinstance(claims, dict) or claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE:
        raise TokenError("token issuer or audience mismatch")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < now:
        raise TokenError("token expired")
    return {k: str(v) for k, v in claims.items()}
