"""A loopback HTTP server that records every request it receives (method, path, headers,
body) and answers each with one canned response: the "attacker's server" of the secret
tests, which must never receive a saved key."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class CaptureServer:
    def __init__(self, status: int = 200, headers: dict | None = None, body: dict | None = None):
        self.status, self.headers, self.body = status, headers or {}, body or {}
        self.requests: list[dict] = []
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                capture.requests.append({
                    "method": self.command, "path": self.path, "headers": dict(self.headers),
                    "body": self.rfile.read(length).decode("utf-8", "replace"),
                })
                payload = json.dumps(capture.body).encode()
                self.send_response(capture.status)
                for name, value in {"Content-Type": "application/json", **capture.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = answer  # noqa: N815 - http.server names

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def received(self, secret: str) -> bool:
        """Did ``secret`` arrive anywhere in a request (path, any header, body)?"""
        return any(secret in json.dumps(request) for request in self.requests)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
