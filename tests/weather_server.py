"""A scripted stand-in for Open-Meteo's /v1/forecast on 127.0.0.1 (never the internet).

It answers with the fixture documents of ``tests/fixtures/weather/open_meteo/`` chosen by the
requested latitude, and injects failures from a script: each request to a cell first consumes that
cell's queued faults (``"429"``, ``"500"``, ``"400"``, ``"hang"`` — sleeps past the client's read
timeout —, ``"truncated"`` — a 200 whose JSON is cut short —, ``"short_read"`` — the connection
closes before Content-Length bytes —, ``"missing_variable"``). Every request is recorded (path
and query) so tests can count requests per cell and look at what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "weather" / "open_meteo"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class FakeOpenMeteo:
    def __init__(self, documents: dict[float, dict] | None = None, hang_seconds: float = 2.0):
        # requested latitude (rounded to 4 decimals) -> answer document
        self.documents = documents or {}
        self.faults: dict[float, deque] = defaultdict(deque)
        self.requests: list[dict] = []
        self.hang_seconds = hang_seconds
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/forecast"

    def inject(self, latitude: float, *faults: str) -> None:
        self.faults[round(latitude, 4)].extend(faults)

    def requests_for(self, latitude: float) -> int:
        return sum(1 for r in self.requests if round(float(r["query"]["latitude"]), 4) == round(latitude, 4))

    def __enter__(self) -> FakeOpenMeteo:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _next(self, query: dict) -> tuple[str | None, dict | None]:
        lat = round(float(query["latitude"]), 4)
        with self._lock:
            self.requests.append({"query": query})
            fault = self.faults[lat].popleft() if self.faults[lat] else None
        return fault, self.documents.get(lat)

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, length: int | None = None, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                fault, doc = fake._next(query)
                if fault == "429":
                    return self._send(429, b'{"error": true, "reason": "Too many concurrent requests"}',
                                      headers={"Retry-After": "0"})
                if fault == "500":
                    return self._send(500, b"<html>Internal Server Error</html>")
                if fault == "400":
                    return self._send(400, json.dumps(fixture("error_400_invalid_variable.json")).encode())
                if fault == "hang":
                    time.sleep(fake.hang_seconds)
                    return self._send(200, json.dumps(doc).encode())
                if doc is None:
                    return self._send(400, b'{"error": true, "reason": "no fixture for this latitude"}')
                if fault == "missing_variable":
                    doc = fixture("forecast_missing_shortwave_radiation.json")
                body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
                if fault == "truncated":
                    return self._send(200, body[: len(body) // 2])
                if fault == "short_read":
                    self._send(200, body[: len(body) // 2], length=len(body))
                    self.close_connection = True
                    return None
                return self._send(200, body)

        return Handler
