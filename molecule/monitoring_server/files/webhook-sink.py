"""Test webhook receiver: every POST body is kept as one JSON file in the directory given."""

import pathlib
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

OUT = pathlib.Path(sys.argv[1])


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"{time.time_ns()}.json").write_bytes(body)
        self.send_response(200)
        self.end_headers()


HTTPServer(("127.0.0.1", int(sys.argv[2])), Sink).serve_forever()
