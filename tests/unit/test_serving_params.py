"""Parameter validation, tenant registry, local tokens and the light import path of the API Lambdas."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edf.serving import params
from edf.serving.params import ApiError
from edf.serving.tenants import TenantRegistry, key_hash
from edf_local.gateway import local_registry


@pytest.mark.parametrize("value", ["2026-06-01T00:00:00Z", "2026-06-01T02:00:00+02:00", "2026-06-01T00:00Z",
                                   "2026-06-01 00:00:00.5-0130"])
def test_timestamps_with_offsets_are_accepted(value):
    t = params.timestamp("start", value)
    assert t.tzinfo == dt.UTC


@pytest.mark.parametrize("value", ["2026-06-01T00:00:00", "2026-06-01", "yesterday", "2026-13-01T00:00:00Z",
                                   "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "", None])
def test_bad_timestamps_answer_400(value):
    with pytest.raises(ApiError) as info:
        params.timestamp("start", value)
    assert info.value.status == 400 and info.value.code in ("invalid_start", "missing_start")


def test_range_rules():
    with pytest.raises(ApiError, match="31 days"):
        params.time_range("2026-01-01T00:00:00Z", "2026-02-01T00:00:01Z", 31)
    s, e = params.time_range("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", 31)
    assert e - s == dt.timedelta(days=31)


def test_series_parsing():
    assert params.series(None, ("consumption", "solar")) == ("consumption", "solar")
    assert params.series("solar,consumption,solar", ()) == ("solar", "consumption")
    with pytest.raises(ApiError):
        params.series("wind", ())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_either_a_safe_id_or_400(text):
    try:
        value = params.building_id(text)
    except ApiError as exc:
        assert exc.status == 400
    else:
        assert value == text and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)


def test_error_message_shortens_huge_values():
    with pytest.raises(ApiError) as info:
        params.building_id("x" * 10_000)
    assert len(info.value.message) < 200


def test_tenant_registry_by_key_id_and_hash():
    reg = TenantRegistry({"tenants": [
        {"tenant_id": "a", "grid_areas": ["north"], "api_key_ids": ["kid1"], "api_key_sha256": [key_hash("secret-a")]},
        {"tenant_id": "b", "grid_areas": ["south"], "api_key_sha256": [key_hash("secret-b")]}]})
    assert reg.lookup("kid1", None).tenant_id == "a"
    assert reg.lookup(None, "secret-b").grid_areas == ("south",)
    assert reg.lookup("nope", "nope") is None and reg.lookup(None, None) is None
    # a malformed entry is skipped and counted; the others keep working (issue 14, item 5)
    reg = TenantRegistry({"tenants": [{"tenant_id": "x", "grid_areas": ["bad area'"]},
                                      {"tenant_id": "b", "grid_areas": ["south"], "api_key_sha256": [key_hash("s")]}]})
    assert reg.rejected == 1 and [t.tenant_id for t in reg.tenants] == ["b"]
    assert reg.lookup(None, "s").tenant_id == "b"


def test_local_registry_keys_are_hashed_and_random():
    doc, keys = local_registry(["north", "south"])
    assert keys["tenant-north"] not in json.dumps(doc)
    assert TenantRegistry(doc).lookup(None, keys["tenant-north"]).grid_areas == ("north",)
    # not guessable: new at every call, long, never the old well-known edf-local-<area>
    _, again = local_registry(["north", "south"])
    assert again["tenant-north"] != keys["tenant-north"] and len(keys["tenant-north"]) >= 32
    assert TenantRegistry(doc).lookup(None, "edf-local-north") is None


def test_api_lambdas_do_not_import_pandas():
    code = ("import sys, edf.serving.b2b, edf.serving.b2c, edf.storage.dynamodb, edf.storage.postgres;"
            "print(sorted(m for m in ('pandas', 'awswrangler', 'pyspark', 'cvxpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
