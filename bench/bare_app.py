"""A bench-only WSGI app: one endpoint answering a fixed JSON body from memory.

bench/load.py serves it with the Procfile's API command line (same gunicorn workers,
threads, access log), so its throughput is the ceiling of that server configuration:

    BENCH_BARE_BODY=body.json gunicorn 'bench.bare_app:create_app()'
"""

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    """Return the app answering GET /bare with the bytes of the file BENCH_BARE_BODY."""
    body = Path(os.environ["BENCH_BARE_BODY"]).read_bytes()
    app = Flask(__name__)

    @app.get("/bare")
    def bare() -> Response:
        return Response(body, mimetype="application/json")

    return app
