"""The lab's HTTP server: the page from ``static/`` and the JSON API of :class:`~minicnn.lab.app.LabApp`.

The standard library's ``ThreadingHTTPServer``: one thread per request, so a long request (a
backprop, a stop that waits for the run folder) never holds up the page's polling, and nothing
to install.  It listens on 127.0.0.1 only and answers only requests whose ``Host`` is that
address or ``localhost`` (a web page elsewhere cannot reach it by DNS rebinding).

Every answer of ``/api/...`` is JSON.  A refused request gets ``{"error": "..."}`` with its
status: 400 malformed (bad JSON, a wrong type, an unknown setting), 404 unknown path, 405
wrong method (PUT, DELETE, PATCH and OPTIONS on any path; HEAD is answered as GET), 409 conflict (a second training start, no model yet), 411 no Content-Length,
413 a body over :data:`MAX_BODY` bytes or a picture too large, 422 a blank drawing.  An
unexpected exception is a 500 with its message; the server goes on.
"""
import json
import signal
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from . import docpage
from .arrays import LabError

HOST = "127.0.0.1"
MAX_BODY = 2 * 1024 * 1024   #: bytes; a 280x280 drawing as a PNG data URL is about 20 kB
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}


def _get_routes(app):
    return {
        "/api/info": lambda q: app.info(),
        "/api/filter": lambda q: app.filter(_one(q, "name"), _one(q, "index")),
        "/api/digit": lambda q: app.digit(q.get("index", ["0"])[0]),
        "/api/train/status": lambda q: app.train_status(q.get("since", ["0"])[0]),
        "/api/train/snapshot": lambda q: app.train_snapshot(),
    }


def _post_routes(app):
    return {
        "/api/predict": lambda b: app.predict(_field(b, "image"), bool(b.get("layers", True))),
        "/api/train/start": lambda b: app.train_start(b),
        "/api/train/pause": lambda b: app.train_pause(),
        "/api/train/resume": lambda b: app.train_resume(),
        "/api/train/stop": lambda b: app.train_stop(),
        "/api/backprop": lambda b: app.backprop(b.get("image"), b.get("digit"), b.get("label")),
    }


def _one(query, name):
    if name not in query:
        raise LabError(400, f"expected the query parameter {name}")
    return query[name][0]


def _field(body, name):
    if name not in body:
        raise LabError(400, f"expected a JSON object with {name!r}")
    return body[name]


class LabServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` bound to 127.0.0.1, holding the :class:`LabApp` its handlers call."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app, port=8000, quiet=True):
        self.app, self.quiet = app, quiet
        self.get_routes, self.post_routes = _get_routes(app), _post_routes(app)
        super().__init__((HOST, port), Handler)

    @property
    def url(self):
        return f"http://{HOST}:{self.server_address[1]}/"

    def serve_in_thread(self):
        """Serve from a daemon thread (for tests and ``--screenshots``); ``shutdown()`` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="minicnn-lab-server", daemon=True)
        thread.start()
        return thread

    def server_close(self):
        self.app.close()
        super().server_close()


class Handler(BaseHTTPRequestHandler):
    server_version = "minicnn-lab"
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------------ dispatch
    def do_GET(self):
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        if url.path in self.server.get_routes:
            return self._api(lambda: self.server.get_routes[url.path](parse_qs(url.query)))
        if url.path in self.server.post_routes:
            return self._error(405, f"{url.path} expects POST")
        if url.path.startswith("/api/"):
            return self._error(404, f"no such API path {url.path}")
        if url.path.startswith("/docs/"):
            page = docpage.render(url.path.removeprefix("/docs/"))
            if page is None:
                return self._send(404, f"no page {url.path}: docs/ is in minicnn's source checkout, not in an "
                                       f"installed wheel".encode(), "text/plain; charset=utf-8")
            return self._send(200, page.encode(), STATIC_TYPES[".html"])
        self._static(url.path)

    def do_HEAD(self):
        """As GET, without the body (``_send`` leaves it out)."""
        self.do_GET()

    def _refuse_method(self):
        """PUT, DELETE, PATCH, OPTIONS: 405 in JSON, naming the method the path takes."""
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        self._discard_body()
        allowed = "POST" if path in self.server.post_routes else "GET"
        self._error(405, f"{path} expects {allowed}, not {self.command}",
                    allow="POST" if allowed == "POST" else "GET, HEAD")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def do_POST(self):
        if not self._host_ok():
            return
        url = urlsplit(self.path)
        if url.path not in self.server.post_routes:
            code = 405 if url.path in self.server.get_routes else 404
            self._discard_body()
            return self._error(code, f"{url.path} expects GET" if code == 405 else f"no such API path {url.path}")
        body = self._read_json()
        if body is not None:
            self._api(lambda: self.server.post_routes[url.path](body))

    # ------------------------------------------------------------------ pieces
    def _host_ok(self):
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in (HOST, "localhost"):
            self._error(403, f"the lab answers only requests to {HOST} or localhost, not {host!r}")
            return False
        return True

    def _read_json(self):
        """The request body as a JSON object, or None after answering with the error."""
        length = self.headers.get("Content-Length")
        if length is None:
            self._error(411, "expected a Content-Length header")
            return None
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(400, f"Content-Length: expected a byte count, got {length!r}")
            return None
        if length > MAX_BODY:
            self.close_connection = True   # the body is not read: the connection cannot be reused
            self._error(413, f"request body of {length} bytes is over the limit of {MAX_BODY} bytes")
            return None
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._error(400, f"malformed JSON: {exc}")
            return None
        if not isinstance(body, dict):
            self._error(400, f"expected a JSON object, got {type(body).__name__}")
            return None
        return body

    def _discard_body(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if 0 < length <= MAX_BODY:
            self.rfile.read(length)
        elif length:
            self.close_connection = True

    def _api(self, call):
        try:
            self._send(200, json.dumps(call()).encode(), "application/json")
        except LabError as exc:
            self._error(exc.status, str(exc))
        except Exception as exc:   # a bug, not the client's fault: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            self._error(500, f"{type(exc).__name__}: {exc}")

    def _error(self, status, message, allow=None):
        headers = {} if allow is None else {"Allow": allow}
        self._send(status, json.dumps({"error": message, "status": status}).encode(), "application/json", headers)

    def _static(self, path):
        name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
        files = resources.files("minicnn.lab") / "static"
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES or not (files / name).is_file():
            return self._send(404, b"not found", "text/plain; charset=utf-8")
        self._send(200, (files / name).read_bytes(), STATIC_TYPES[suffix])

    def _send(self, status, payload, content_type, headers=None):
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(app, port=8000, quiet=True, announce=print):
    """Serve ``app`` on 127.0.0.1:``port`` until Ctrl-C or SIGTERM; a training run is stopped on the way
    out (its run folder is still written)."""
    server = LabServer(app, port, quiet)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    announce(f"minicnn lab: serving on {server.url} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
