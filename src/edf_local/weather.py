"""The weather fetcher on the local runtime: its real Lambda handler replays a recorded forecast.

In AWS a schedule runs ``lambdas/weather_fetcher`` (``edf_weather.schedule_expression``); here the
runtime invokes the same handler in-process, with the environment Terraform gives it, against the
emulated S3. The local deployment's config says ``edf_weather.provider: file`` and points at
``recorded/open_meteo_fontana.json`` (see ``recorded/README.md``: an Open-Meteo-format document for
the bundled homes' site, not a live forecast), so nothing goes to the internet.

``issue_time`` is what the schedule's last run before an origin would have stamped: 30 minutes
before it (the 23:30 UTC fetch for a 00:00 UTC origin).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edf_local.errors import TaskFailed
from edf_local.functions import LAMBDAS_DIR

if TYPE_CHECKING:
    import pandas as pd

RECORDED_FORECAST = Path(__file__).resolve().parent / "recorded" / "open_meteo_fontana.json"
FETCH_BEFORE_ORIGIN = dt.timedelta(minutes=30)


def local_weather_overrides() -> dict[str, Any]:
    """The local deployment's weather provider: the recorded document through the ``file`` provider."""
    return {"edf_weather": {"provider": "file", "file": {"uri": str(RECORDED_FORECAST), "replay": True}}}


def issue_time_for(cfg: Any, inference_date: str | dt.date) -> pd.Timestamp:
    """The issue time of the scheduled fetch just before the inference origin of ``inference_date``."""
    import pandas as pd

    origin = pd.Timestamp(str(inference_date), tz="UTC") + pd.Timedelta(hours=cfg.edf_feature_eng.origin_hour_utc)
    return origin - FETCH_BEFORE_ORIGIN


def fetch_weather(rt: Any, issue_time: pd.Timestamp) -> dict[str, Any] | None:
    """Invoke the fetcher handler for ``issue_time``; None (said on the console) when it wrote nothing."""
    from edf_local.lambdas import LocalLambdaInvoker

    name = rt.cfg.name(rt.cfg.edf_weather.fetcher_function_base)
    env = {"EDF_CONFIG_URI": rt.config_uri, "EDF_ENVIRONMENT": rt.cfg.env_suffix, "EDF_LOG_FORMAT": "text"}
    w = rt.cfg.edf_weather
    invoker = LocalLambdaInvoker({name: LAMBDAS_DIR / "weather_fetcher" / "handler.py"}, environment={name: env},
                                 region=rt.region, account=rt.account,
                                 function_limits={name: (w.lambda_memory, w.lambda_timeout)})  # as Terraform deploys it
    metrics = io.StringIO()  # the EMF lines CloudWatch would turn into metrics; kept off the console
    try:
        with contextlib.redirect_stdout(metrics):
            summary = invoker.invoke(name, {"issue_time": issue_time.isoformat()})
    except TaskFailed as exc:
        rt._print(f"[local] weather fetch for issue {issue_time.isoformat()} wrote nothing ({exc.error}); "
                  "inference will forecast without weather (weather_source none)")
        return None
    rt._print(f"[local] weather: {name} replayed {summary['provider']} (a recorded forecast, not a live one) for "
              f"{summary['cells_fetched']}/{summary['cells']} cell(s), {summary['buildings']} building(s), issue "
              f"{issue_time.isoformat()} -> {summary['uri']}")
    return summary


def stored_weather_sources(cfg: Any, inference_date: str, horizon_hours: int) -> dict[str, int]:
    """Forecast points per ``weather_source`` that the store serves for the run's horizon (what the API shows)."""
    import pandas as pd

    from edf.data.topology import read_topology
    from edf.storage import open_store

    start = pd.Timestamp(str(inference_date), tz="UTC") + pd.Timedelta(hours=cfg.edf_feature_eng.origin_hour_utc)
    end = start + pd.Timedelta(hours=horizon_hours)
    store = open_store(cfg)
    areas = sorted(set(read_topology(cfg.s3_path("s3_raw_calendar_path"))["grid_area"].astype(str)))
    counts: dict[str, int] = {}
    for info in store.list_buildings(areas):
        for series in info.series:
            for p in store.building_series(info.building_id, series, start.to_pydatetime(), end.to_pydatetime()):
                counts[p.weather_source] = counts.get(p.weather_source, 0) + 1
    return dict(sorted(counts.items()))


def weather_summary_line(rt: Any, inference_date: str) -> str:
    """The demo summary's weather line: what the stored forecasts used, and where that weather came from."""
    counts = stored_weather_sources(rt.cfg, inference_date, rt.cfg.edf_inference.forecast_horizon_hours)
    used = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no stored points"
    fetched = rt.weather
    if fetched is None:
        origin = "no weather forecast was fetched"
    else:
        origin = (f"provider {fetched['provider']} - a recorded Open-Meteo-format forecast for the homes' site "
                  f"replayed onto issue {fetched['issue_time']} (src/edf_local/recorded/README.md), not a live forecast")
    return f"weather source of the stored forecast points: {used}; {origin}"
