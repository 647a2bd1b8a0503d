"""A tour of hyperhttp.testing: a local server with a few typical endpoints, driven by a client.

``demo_server()`` registers the endpoints (JSON, redirect, gzip, basic auth, streaming, a slow
one) and is meant to be reused by the project's demo once the client drives it; run this file
to see the server answer the standard library's ``http.client``.

    python examples/testserver_demo.py
"""

from __future__ import annotations

import base64
import gzip
import http.client
import time
from collections.abc import Iterator

from werkzeug import Request, Response

from hyperhttp.testing import Fault, HTTPServer

USER, PASSWORD = "demo", "s3cret"


def demo_server() -> HTTPServer:
    """A started server with the demo endpoints (stop it, or use it as a context manager)."""
    server = HTTPServer(host="127.0.0.1")
    server.start()
    server.expect_request("/json").respond_with_json({"hello": "world", "items": [1, 2, 3]})
    server.expect_request("/redirect").respond_with_data(
        "", status=302, headers={"Location": "/json"}
    )
    server.expect_request("/gzip").respond_with_data(
        gzip.compress(b"compressed hello " * 20),
        headers={"Content-Encoding": "gzip"},
        content_type="text/plain",
    )

    def basic_auth(request: Request) -> Response:
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (USER, PASSWORD):
            return Response("who are you?", 401, {"WWW-Authenticate": 'Basic realm="demo"'})
        return Response(f"welcome, {auth.username}")

    server.expect_request("/auth").respond_with_handler(basic_auth)

    def stream(request: Request) -> Response:
        def events() -> Iterator[bytes]:
            for i in range(3):
                yield f"event {i}\n".encode()
                time.sleep(0.05)

        return Response(events(), mimetype="text/plain")

    server.expect_request("/stream").respond_with_handler(stream)
    server.expect_request("/slow").respond_with_data("finally").with_fault(Fault.delay(0.3))
    return server


def _show(connection: http.client.HTTPConnection, path: str, **headers: str) -> None:
    t0 = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.getheader("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    took = (time.perf_counter() - t0) * 1000
    text = body.decode()[:60].replace("\n", "\\n")
    print(f"GET {path:<10} -> {response.status} {response.reason:<18} {took:6.1f} ms  {text}")


def main() -> None:
    with demo_server() as server:
        print(f"server at {server.url_for('/')}")
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        for path in ("/json", "/redirect", "/gzip", "/auth", "/stream", "/slow"):
            _show(connection, path)
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        _show(connection, "/auth", Authorization=f"Basic {token}")
        _show(connection, "/missing")
        print(f"{len(server.log)} requests logged, {len(server.assertions)} assertion(s) pending")
        server.clear_assertions()

        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            connection.request("GET", "/json")
            connection.getresponse().read()
        rate = n / (time.perf_counter() - t0)
        print(f"throughput: {rate:,.0f} requests/s over one keep-alive connection")
        connection.close()


if __name__ == "__main__":
    main()
