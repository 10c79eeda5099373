"""The resident page rendered by headless Chromium against the local server shows the chart with data.

Chromium is required (Debian package `chromium`; .ci/run installs it): a missing browser fails the
test rather than skipping it, so the page is never silently untested.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile

import boto3
import pytest
from moto.server import ThreadedMotoServer

from edf.storage.dynamodb import DynamoDBForecastStore
from edf.storage.sample import sample_run
from edf_local.gateway import local_token, start_server

pytestmark = pytest.mark.slow
DAY = dt.date(2026, 6, 2)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is required for the web page test: apt-get install -y chromium")


@pytest.fixture(scope="module")
def page_env(cfg, topology, homes):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="eu-central-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    store = DynamoDBForecastStore("edf-page-test", ttl_days=30, client=client)
    store.ensure_schema(create=True)
    origin = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=1)
    forecasts, recs = sample_run("page-run", origin - dt.timedelta(hours=3), origin, 72, topology, homes)
    store.write_run("page-run", forecasts, recs)
    server, base_url = start_server(cfg, port=0, store=store, endpoint_url=f"http://{host}:{port}")
    yield base_url, local_token(cfg, "citylearn-01", endpoint_url=f"http://{host}:{port}")
    server.shutdown()
    moto.stop()


def render(url: str) -> str:
    with tempfile.TemporaryDirectory(prefix="edf-chromium-") as profile:
        out = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                              "--virtual-time-budget=15000", "--dump-dom", url],
                             capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_page_draws_demand_and_solar(page_env):
    base_url, token = page_env
    dom = render(f"{base_url}/app/#date={DAY.isoformat()}&token={token}")
    assert 'data-state="ready"' in dom, dom[:3000]
    paths = {m.group(1): m.group(0) for m in re.finditer(r'<path[^>]*data-series="(\w+)"[^>]*>', dom)}
    assert set(paths) == {"demand", "solar"}
    for tag in paths.values():
        assert 'data-points="24"' in tag
        d = re.search(r' d="([^"]+)"', tag).group(1)
        assert d.count("L") == 23  # 24 points joined by 23 segments
        ys = [float(y) for y in re.findall(r",([\d.]+)", d)]
        assert len(set(ys)) > 3  # a shape, not a flat line
    assert len(re.findall(r"data-best=", dom)) == 3  # the suggested hours are highlighted
    assert re.search(r'<ol id="best">(\s*<li>[^<]+</li>){3}', dom)
    assert "citylearn-01" in dom


def test_page_without_token_asks_to_sign_in(page_env):
    base_url, _ = page_env
    dom = render(f"{base_url}/app/")
    assert 'data-state="login"' in dom


def test_page_with_bad_token_shows_error(page_env):
    base_url, _ = page_env
    dom = render(f"{base_url}/app/#date={DAY.isoformat()}&token=not-a-token")
    assert 'data-state="error"' in dom and "Unauthorized" in dom
