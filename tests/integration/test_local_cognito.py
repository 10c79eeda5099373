"""Local residents' identity (issue 14, item 3): the emulator's Cognito user pool, real RS256 tokens.

The server is started the way `edf serve` does (emulator from ``AWS_ENDPOINT_URL``). ``HOME`` points
at a folder holding an *empty* file where the old HS256 stand-in read its key
(``~/.edf/local_signing_key``): with the stand-in, an empty key file meant an empty key that
accepted forged tokens.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import time

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from edf.storage.dynamodb import DynamoDBForecastStore
from edf.storage.sample import synthetic_rows

pytestmark = pytest.mark.slow
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAY = {"date": "2026-06-01"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(key: bytes, claims: dict) -> str:
    import hashlib
    import hmac

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "edf-local"}).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(hmac.new(key, f'{head}.{body}'.encode(), hashlib.sha256).digest())}"


@pytest.fixture(scope="module")
def env(cfg, tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / ".edf").mkdir()
    (home / ".edf" / "local_signing_key").write_text("")  # the empty key file of the old stand-in
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        from edf_local.gateway import start_server

        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-central-1")
        store = DynamoDBForecastStore("edf-cognito-test", ttl_days=30, client=client)
        store.ensure_schema(create=True)
        store.write_run("run-1", synthetic_rows(["n-1"], "north", "run-1", T0 - dt.timedelta(hours=19), T0, 48))
        server, base_url = start_server(cfg, port=0, store=store, grid_areas=["north"])
        yield {"base_url": base_url, "server": server, "endpoint": endpoint, "home": home}
        server.shutdown()
    moto.stop()


def me(env, authorization: str) -> requests.Response:
    return requests.get(env["base_url"] + "/v1/me/solar-vs-demand", headers={"Authorization": authorization},
                        params=DAY, timeout=30)


def forged_claims(env) -> dict:
    now = int(time.time())
    pool = getattr(env["server"], "user_pool", None)
    iss = pool.issuer if pool else "edf-local"
    aud = pool.client_id if pool else "edf-resident-app"
    return {"sub": "attacker", "custom:building_id": "n-1", "token_use": "id", "iss": iss, "aud": aud,
            "iat": now, "exp": now + 3600}


def test_forged_tokens_are_refused(env):
    claims = forged_claims(env)
    assert me(env, "Bearer " + hs256(b"", claims)).status_code == 401  # the empty-key forgery
    assert me(env, "Bearer " + hs256(b"", {**claims, "iss": "edf-local", "aud": "edf-resident-app"})).status_code == 401
    none = f"{b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims).encode())}."
    assert me(env, "Bearer " + none).status_code == 401
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    other_key = RSAKey.generate_key(2048)  # right claims, right kid, another key
    forged = jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, other_key)
    assert me(env, "Bearer " + forged).status_code == 401


@pytest.mark.parametrize("header", ['["a", "b"]', '["x.y.z"]', "Bearer [1, 2]",
                                    f"Bearer {b64(b'[1]')}.{b64(b'[2]')}.{b64(b'sig')}",
                                    f"Bearer {b64(b'{}')}.{b64(b'[]')}.", "Bearer " + "a." * 5000, "Bearer"])
def test_malformed_authorization_headers_are_401_not_502(env, header):
    r = me(env, header)
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json()["error"]["code"] == "unauthorized"


def test_local_token_signs_in_through_the_user_pool(env, cfg):
    from joserfc import jwt

    from edf_local.gateway import local_token

    token = local_token(cfg, "n-1", "Europe/Paris", endpoint_url=env["endpoint"])
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "RS256"
    claims = jwt.decode(token, env["server"].verifier._key_set(), algorithms=["RS256"]).claims
    pool = env["server"].user_pool
    assert claims["iss"] == pool.issuer and claims["aud"] == pool.client_id and claims["token_use"] == "id"
    assert claims["custom:building_id"] == "n-1" and claims["zoneinfo"] == "Europe/Paris"
    r = me(env, f"Bearer {token}")
    assert r.status_code == 200, r.text
    assert r.json()["building_id"] == "n-1" and r.json()["timezone_source"] == "token"
    idp = boto3.client("cognito-idp", endpoint_url=env["endpoint"], region_name=cfg.aws_region)
    user = idp.admin_get_user(UserPoolId=pool.pool_id, Username="resident-n-1")
    assert {"Name": "custom:building_id", "Value": "n-1"} in user["UserAttributes"]
    described = idp.describe_user_pool(UserPoolId=pool.pool_id)["UserPool"]
    assert described["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_verifier_checks_issuer_audience_use_and_expiry(env, cfg):
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    from edf_local.cognito import TokenError, TokenVerifier

    verifier: TokenVerifier = env["server"].verifier
    # the emulator's signing key (public in moto) lets the test mint tokens that differ in one claim
    from moto.utilities.utils import load_resource

    key = RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    good = forged_claims(env)
    assert verifier.verify(jwt.encode({"alg": "RS256", "kid": "dummy"}, good, key))["custom:building_id"] == "n-1"
    for bad in ({"iss": "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_other"}, {"aud": "other-client"},
                {"token_use": "access"}, {"exp": int(time.time()) - 10}, {"exp": None}):
        claims = {k: v for k, v in {**good, **bad}.items() if v is not None}
        with pytest.raises(TokenError):
            verifier.verify(jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key))


def test_local_api_keys_are_random_per_server(env, cfg):
    keys = env["server"].api_keys
    assert keys["tenant-north"] != "edf-local-north" and len(keys["tenant-north"]) >= 32
    url = env["base_url"] + "/v1/buildings"
    assert requests.get(url, headers={"x-api-key": "edf-local-north"}, timeout=30).status_code == 403
    assert requests.get(url, headers={"x-api-key": keys["tenant-north"]}, timeout=30).status_code == 200
    from edf_local.gateway import start_server

    other, _ = start_server(cfg, port=0, store=env["server"].deps.store, grid_areas=["north"],
                            endpoint_url=env["endpoint"])
    try:
        assert other.api_keys["tenant-north"] != keys["tenant-north"]
    finally:
        other.shutdown()
        from edf.serving.api import set_dependencies

        set_dependencies(env["server"].deps)


@pytest.mark.parametrize("host,warned", [("127.0.0.1", False), ("0.0.0.0", True)])
def test_binding_beyond_loopback_prints_a_warning(env, cfg, capsys, host, warned):
    from edf.serving.api import set_dependencies
    from edf_local.gateway import start_server

    server, _ = start_server(cfg, host=host, port=0, store=env["server"].deps.store, grid_areas=["north"],
                             endpoint_url=env["endpoint"])
    server.shutdown()
    set_dependencies(env["server"].deps)
    assert ("beyond loopback" in capsys.readouterr().err) is warned


def test_edf_local_token_command(env):
    cmd = [sys.executable, "-m", "edf.cli", "local", "token", "--building", "n-1", "--endpoint-url", env["endpoint"]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HOME": str(env["home"])})
    assert out.returncode == 0, out.stderr[-2000:]
    assert me(env, "Bearer " + out.stdout.strip()).status_code == 200
