"""The HTTP side of provider adapters: urllib3 with timeouts, bounded retries and a request budget.

urllib3 is what botocore itself uses, so the Lambda runtime already has it (no extra dependency in
the zip). Its own retry machinery is switched off (``retries=False``) because the fetcher must see
every attempt: each one counts against the run's budget and goes into the metrics (attempts,
failed attempts by kind, latency). The loop here:

* retries 429, 5xx, connect/read timeouts, dropped connections and bodies that are not complete
  JSON, at most ``max_attempts`` times in all;
* waits ``backoff_base * 2**attempt`` seconds with full jitter, or the provider's ``Retry-After``
  (seconds), capped at ``backoff_max``;
* refuses to start an attempt once the run's :class:`RequestBudget` is spent;
* does not retry other 4xx answers (the request itself is wrong) and reports the provider's reason.

Secrets (a provider key in the query string) are masked in every message this module produces and
in urllib3's debug log lines (:class:`_RedactFilter`), and exceptions are raised without their
urllib3 cause, whose text could carry the URL.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3

from edf.weather.providers import BudgetExhausted, ProviderRequestError, ProviderUnavailable

log = logging.getLogger(__name__)
URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "urllib3.connection")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RequestBudget:
    """A thread-safe count of the requests one run may still make (retries included)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExhausted(f"request budget of {self.limit} per run is spent")
            self.used += 1


@dataclass
class RequestStats:
    """Per-run provider statistics for the metrics: every attempt, failed attempts by kind, latency."""

    attempts: int = 0
    errors: int = 0
    error_kinds: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, latency_ms: float, error_kind: str | None) -> None:
        with self._lock:
            self.attempts += 1
            self.latencies_ms.append(round(latency_ms, 1))
            if error_kind:
                self.errors += 1
                self.error_kinds[error_kind] += 1


class _RedactFilter(logging.Filter):
    """Masks registered secrets in urllib3's log records (its debug lines print full URLs)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return re.sub(r"(apikey=)[^&\s\"']+", r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets or "apikey=" in str(record.msg):
            record.msg = self.mask(record.getMessage())
            record.args = None
        return True


_REDACT = _RedactFilter()
for _name in URLLIB3_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACT)


class HttpClient:
    """GET-JSON with the retry, backoff and budget rules above; one instance per fetch run."""

    def __init__(self, *, connect_timeout: float, read_timeout: float, max_attempts: int, backoff_base: float,
                 backoff_max: float, budget: RequestBudget, stats: RequestStats | None = None,
                 sleep: Callable[[float], None] = time.sleep, pool: urllib3.PoolManager | None = None):
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.max_attempts = max_attempts
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.budget = budget
        self.stats = stats or RequestStats()
        self.sleep = sleep
        self.pool = pool or urllib3.PoolManager(num_pools=4, maxsize=32, headers={"User-Agent": "edf-weather-fetcher"})
        self._secrets: set[str] = set()

    @classmethod
    def from_config(cls, w: Any, **kwargs: Any) -> HttpClient:
        """From ``cfg.edf_weather`` (a new budget and stats for the run)."""
        return cls(connect_timeout=w.connect_timeout_seconds, read_timeout=w.read_timeout_seconds,
                   max_attempts=w.max_attempts, backoff_base=w.backoff_base_seconds, backoff_max=w.backoff_max_seconds,
                   budget=RequestBudget(w.max_requests_per_run), **kwargs)

    def add_secret(self, value: str) -> None:
        """A value that must never appear in a log line or an error message."""
        self._secrets.add(value)
        _REDACT.secrets.add(value)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return re.sub(r"(apikey=)[^&\s\"']+", r"\1***", text)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), self.backoff_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2 ** attempt))

    def _attempt(self, url: str, params: Mapping[str, str]) -> tuple[Any, str | None, str | None, str]:
        """One request: (decoded JSON or None, error kind or None, Retry-After, detail)."""
        try:
            resp = self.pool.request("GET", url, fields=dict(params), timeout=self.timeout, retries=False,
                                     redirect=False)
        except urllib3.exceptions.TimeoutError:
            return None, "timeout", None, "timed out"
        except urllib3.exceptions.HTTPError as exc:
            return None, "connection", None, type(exc).__name__
        if resp.status == 200:
            try:
                return json.loads(resp.data.decode("utf-8")), None, None, "ok"
            except ValueError:
                return None, "bad_body", None, f"unreadable JSON body ({len(resp.data)} bytes)"
        detail = _reason(resp.data) or f"HTTP {resp.status}"
        kind = "http_429" if resp.status == 429 else "http_5xx" if resp.status >= 500 else "http_4xx"
        return None, kind, resp.headers.get("Retry-After"), f"HTTP {resp.status}: {detail}"

    def get_json(self, url: str, params: Mapping[str, str], what: str = "request") -> Any:
        """The decoded JSON of a 200 answer; raises ``ProviderUnavailable``/``ProviderRequestError``/``BudgetExhausted``."""
        detail, kind = "", "unavailable"
        for attempt in range(self.max_attempts):
            self.budget.take()
            t0 = time.perf_counter()
            doc, kind_or_none, retry_after, detail = self._attempt(url, params)
            self.stats.record((time.perf_counter() - t0) * 1000, kind_or_none)
            if kind_or_none is None:
                return doc
            kind = kind_or_none
            if kind == "http_4xx":
                raise ProviderRequestError(self.redact(f"{what}: provider refused the request ({detail})"))
            if attempt + 1 < self.max_attempts:
                delay = self._delay(attempt, retry_after)
                log.info("%s: %s, retry %d/%d in %.1fs", what, self.redact(detail), attempt + 1,
                         self.max_attempts - 1, delay)
                self.sleep(delay)
        raise ProviderUnavailable(self.redact(f"{what}: {self.max_attempts} attempt(s) failed, last: {detail}"),
                                  kind=kind)


def _reason(body: bytes) -> str | None:
    """Open-Meteo's documented error body ``{"error": true, "reason": "..."}``, shortened."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict) and doc.get("reason"):
        return str(doc["reason"])[:300]
    return None
