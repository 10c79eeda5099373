"""Global LSTM (PyTorch): history window + known future covariates -> every hour of the horizon.

One sample is one (building, origin). The encoder LSTM reads the ``lstm_history_hours`` hours
strictly before the origin (target scaled by the window's own mean, a missing-value mask, and the
hour of day); a shared head combines its final state with each lead's known covariates (calendar,
holiday, weather, pvlib geometry, the same-hour profile) and a lead embedding, and emits three
quantiles (the interval's lower, the median, the upper) for all leads in one forward pass. The
quantile heads are trained with the pinball loss; the lower/upper heads are offsets through a
softplus from the median, so the interval can never cross.

Scaling by the history window's mean (not a per-building constant) lets the model forecast a
building it never saw. Training is seeded and runs with a fixed thread count, so on CPU the same
data and config give the same weights. Artifacts: ``lstm_model.pt`` (state dict + architecture)
and ``lstm_scaler.json`` (scaling and covariate state).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import LEAD, ORIGIN, profile_names, seasonal_naive_name
from edf.models.base import ForecastModel, ModelError

MODEL_FILE = "lstm_model.pt"
SCALER_FILE = "lstm_scaler.json"
HIST_CHANNELS = 4  # scaled value, present mask, sin/cos hour of day
LEAD_EMBEDDING = 8
_HOUR = np.timedelta64(1, "h")


def _covariates(rows: pd.DataFrame, target: str, scale: np.ndarray, horizon: int,
                extra: dict[str, list[float]] | None = None) -> tuple[np.ndarray, list[str]]:
    """Known-future inputs per row, roughly unit-scaled; missing weather is 0 plus a mask.

    ``extra``: the declared covariates' feature columns (``edf_feature_eng.covariates``) with the
    training mean and std that standardise them; missing values are 0 plus a mask.
    """
    def col(name: str) -> np.ndarray:
        return rows[name].to_numpy(dtype="float64") if name in rows.columns else np.full(len(rows), np.nan)

    hod, dow = col("hour_of_day"), col("day_of_week")
    out = {
        "hod_sin": np.sin(2 * np.pi * hod / 24), "hod_cos": np.cos(2 * np.pi * hod / 24),
        "dow_sin": np.sin(2 * np.pi * dow / 7), "dow_cos": np.cos(2 * np.pi * dow / 7),
        "weekend": col("is_weekend"), "holiday": col(c.HOLIDAY),
        "temperature": col(c.TEMPERATURE) / 40.0, "ghi": col(c.GHI) / 1000.0, "humidity": col(c.HUMIDITY) / 100.0,
        "clearsky": col("clearsky_ghi") / 1000.0, "elevation": col("solar_elevation_deg") / 90.0,
        "lead": col(LEAD) / max(horizon, 1),
        "profile_mean": col(profile_names(target)[0]) / scale,
        "profile_std": col(profile_names(target)[1]) / scale,
        "last_week": col(seasonal_naive_name(target)) / scale,
    }
    for name, (mean, std) in (extra or {}).items():
        out[f"cov:{name}"] = (col(name) - mean) / (std or 1.0)
    for name in ("temperature", "ghi", "humidity", "profile_mean", "last_week", *[f"cov:{n}" for n in extra or {}]):
        out[f"{name}_present"] = (~np.isnan(out[name])).astype("float64")
    names = list(out)
    matrix = np.nan_to_num(np.column_stack([out[n] for n in names]), nan=0.0)
    return matrix.astype("float32"), names


class _Net:  # built lazily so importing this module does not import torch
    @staticmethod
    def build(n_cov: int, hidden: int, layers: int, dropout: float, horizon: int):
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = nn.LSTM(HIST_CHANNELS, hidden, layers, batch_first=True,
                                       dropout=dropout if layers > 1 else 0.0)
                self.lead = nn.Embedding(horizon, LEAD_EMBEDDING)
                self.head = nn.Sequential(nn.Linear(hidden + n_cov + LEAD_EMBEDDING, hidden), nn.ReLU(),
                                          nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 3))

            def forward(self, hist, cov):
                _, (h, _) = self.encoder(hist)
                b, hz, _ = cov.shape
                state = h[-1].unsqueeze(1).expand(b, hz, -1)
                lead = self.lead(torch.arange(hz)).unsqueeze(0).expand(b, hz, -1)
                o = self.head(torch.cat([state, cov, lead], dim=-1))
                mid = o[..., 1]
                soft = nn.functional.softplus
                return torch.stack([mid - soft(o[..., 0]), mid, mid + soft(o[..., 2])], dim=-1)

        return Net()


class LSTMModel(ForecastModel):
    strategy = "lstm"
    artifact_libraries = ("torch",)

    # -- data shaping ----------------------------------------------------------------------------
    def _grids(self, series: pd.DataFrame) -> dict[str, tuple[np.datetime64, np.ndarray]]:
        grids = {}
        frame = series[[c.BUILDING_ID, c.TIMESTAMP, self.target]].copy()
        frame[c.TIMESTAMP] = pd.to_datetime(frame[c.TIMESTAMP], utc=True).dt.tz_localize(None)
        for building, grp in frame.groupby(c.BUILDING_ID):
            s = grp.drop_duplicates(c.TIMESTAMP).set_index(c.TIMESTAMP)[self.target].sort_index()
            full = s.reindex(pd.date_range(s.index.min(), s.index.max(), freq="h"))
            grids[str(building)] = (np.datetime64(full.index[0], "h"), full.to_numpy(dtype="float64"))
        return grids

    def _tensors(self, rows: pd.DataFrame, series: pd.DataFrame, with_target: bool):
        hours = int(self.params.get("lstm_history_hours", 168))
        grids = self._grids(series)
        rows = rows.reset_index(drop=True)
        sample = rows.groupby([c.BUILDING_ID, ORIGIN], sort=False).ngroup().to_numpy()
        keys = rows[[c.BUILDING_ID, ORIGIN]].drop_duplicates()  # same order as ngroup(sort=False)
        n = len(keys)
        leads = rows[LEAD].to_numpy(dtype="int64")
        if leads.max() >= self.horizon:
            raise ModelError(f"LSTM was trained for {self.horizon} lead hours; asked for lead {leads.max()}")
        hist = np.zeros((n, hours, HIST_CHANNELS), dtype="float32")
        scale = np.empty(n)
        hod = (np.arange(-hours, 0) % 24).astype("float64")
        for i, (building, origin) in enumerate(zip(keys[c.BUILDING_ID], keys[ORIGIN], strict=True)):
            o = np.datetime64(pd.Timestamp(origin).tz_convert("UTC").tz_localize(None), "h")
            window = np.full(hours, np.nan)
            if str(building) in grids:
                start, values = grids[str(building)]
                end = int((o - start) / _HOUR)
                lo = max(end - hours, 0)
                if end > 0:
                    chunk = values[lo:min(end, len(values))]
                    window[hours - (end - lo):hours - (end - lo) + len(chunk)] = chunk
            level = np.nanmean(window) if np.isfinite(window).any() else np.nan
            if not np.isfinite(level):
                level = self._building_mean.get(str(building), self._global_mean)
            scale[i] = max(abs(level), 1e-3)
            utc_hod = (hod + o.astype("datetime64[h]").astype("int64")) % 24
            hist[i, :, 0] = np.nan_to_num(window / scale[i], nan=0.0)
            hist[i, :, 1] = np.isfinite(window)
            hist[i, :, 2] = np.sin(2 * np.pi * utc_hod / 24)
            hist[i, :, 3] = np.cos(2 * np.pi * utc_hod / 24)
        row_scale = scale[sample]
        cov_rows, names = _covariates(rows, self.target, row_scale, self.horizon, self._extra)
        cov = np.zeros((n, self.horizon, cov_rows.shape[1]), dtype="float32")
        cov[sample, leads] = cov_rows
        target = None
        if with_target:
            target = np.full((n, self.horizon), np.nan, dtype="float32")
            target[sample, leads] = rows[self.target].to_numpy(dtype="float64") / row_scale
        return hist, cov, target, sample, leads, scale, names

    # -- fit / predict ---------------------------------------------------------------------------
    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        import torch

        if series is None or series.empty:
            series = rows.sort_values(LEAD).drop_duplicates([c.BUILDING_ID, c.TIMESTAMP])
        p = self.params
        self.horizon = int(rows[LEAD].max()) + 1
        self._building_mean = {str(b): float(v) for b, v in rows.groupby(c.BUILDING_ID)[self.target].mean().items()}
        self._global_mean = float(rows[self.target].mean())
        self._extra = {name: [float(rows[name].mean()), float(rows[name].std() or 1.0)]
                       for name in p.get("covariate_features", []) if name in rows.columns and rows[name].notna().any()}
        hist, cov, target, *_, names = self._tensors(rows, series, with_target=True)
        self.features = ["history:" + self.target, *names]
        torch.manual_seed(self.seed)
        torch.set_num_threads(int(p.get("lstm_threads", 2)))
        self._arch = {"n_cov": cov.shape[2], "hidden": int(p.get("lstm_hidden_size", 64)),
                      "layers": int(p.get("lstm_num_layers", 1)), "dropout": float(p.get("lstm_dropout", 0.0)),
                      "horizon": self.horizon}
        net = _Net.build(**self._arch)
        opt = torch.optim.Adam(net.parameters(), lr=float(p.get("lstm_learning_rate", 0.003)))
        quantiles = torch.tensor([self.lower_q, 0.5, self.upper_q])
        h_t, c_t, y_t = torch.from_numpy(hist), torch.from_numpy(cov), torch.from_numpy(target)
        gen = torch.Generator().manual_seed(self.seed)
        batch, epochs = int(p.get("lstm_batch_size", 128)), int(p.get("lstm_epochs", 15))
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(h_t), generator=gen)
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                pred = net(h_t[idx], c_t[idx])
                y = y_t[idx]
                mask = ~torch.isnan(y)
                err = torch.nan_to_num(y, nan=0.0).unsqueeze(-1) - pred
                loss = torch.maximum(quantiles * err, (quantiles - 1) * err).sum(-1)
                loss = (loss * mask).sum() / mask.sum().clamp(min=1)
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        self._net = net

    def _predict(self, rows, series):
        import torch

        if series is None or series.empty:
            raise ModelError("the LSTM needs the hourly history (series) before each origin to forecast")
        torch.set_num_threads(int(self.params.get("lstm_threads", 2)))
        hist, cov, _, sample, leads, scale, _ = self._tensors(rows, series, with_target=False)
        with torch.no_grad():
            out = self._net(torch.from_numpy(hist), torch.from_numpy(cov)).numpy().astype("float64")
        q = out[sample, leads] * scale[sample][:, None]
        return q[:, 1], q[:, 0], q[:, 2]

    # -- artifacts -------------------------------------------------------------------------------
    def _save(self, path: Path) -> None:
        import torch

        torch.save({"state_dict": self._net.state_dict(), "arch": self._arch}, path / MODEL_FILE)
        (path / SCALER_FILE).write_text(json.dumps({
            "building_mean": self._building_mean, "global_mean": self._global_mean, "horizon": self.horizon,
            "covariates": self._extra,
            "history_hours": int(self.params.get("lstm_history_hours", 168))}))

    def _load(self, path: Path) -> None:
        import torch

        if not (path / MODEL_FILE).is_file():
            raise ModelError(f"{path} lacks {MODEL_FILE}")
        blob = torch.load(path / MODEL_FILE, weights_only=True)
        state = json.loads((path / SCALER_FILE).read_text())
        self._building_mean, self._global_mean = state["building_mean"], state["global_mean"]
        self.horizon = int(state["horizon"])
        self._extra = state.get("covariates", {})
        self._arch = dict(blob["arch"])
        self._net = _Net.build(**self._arch)
        self._net.load_state_dict(blob["state_dict"])
        self._net.eval()
