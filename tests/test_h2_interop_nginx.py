"""HTTP/2 client against nginx, the most common HTTP/2 server in front of real services.

nginx has its own HTTP/2 and HPACK implementation (it re-sends its response fields as
literals with incremental indexing, sends 8 KiB DATA frames, enforces its own stream
limits and flow control), so it checks our codec against a third independent peer next to
hypercorn (h2) and nghttpd (nghttp2). Skipped when nginx is not installed; ``make test``
installs Debian's nginx-light where apt-get is available.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from hyperhttp import Client, Timeout


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


NGINX = find_nginx()
pytestmark = pytest.mark.skipif(
    NGINX is None,
    reason="nginx not installed (Debian package nginx-light; `make test` installs it where "
    "apt-get is available)",
)

BIG = 5 * 1024 * 1024 + 123  # several windows, and not a multiple of nginx's frame size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def has_module(name: str) -> bool:
    assert NGINX is not None
    info = subprocess.run([NGINX, "-V"], capture_output=True, text=True, check=False)
    return name in info.stderr + info.stdout


class Nginx:
    """nginx in the foreground, one process, everything under ``workdir``."""

    def __init__(self, workdir: Path, cert: str, key: str) -> None:
        assert NGINX is not None
        self.tls_port = free_port()
        self.clear_port = free_port()
        self.docroot = workdir / "www"
        (self.docroot / "dav").mkdir(parents=True)
        self.big = os.urandom(BIG)
        (self.docroot / "big.bin").write_bytes(self.big)
        (self.docroot / "small.txt").write_bytes(b"small file\n")
        dav = (
            "location /dav/ { dav_methods PUT DELETE; create_full_put_path on; "
            "client_max_body_size 64m; client_body_buffer_size 1m; }"
            if has_module("http_dav_module")
            else ""
        )
        config = workdir / "nginx.conf"
        config.write_text(
            f"""
daemon off;
master_process off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    log_not_found off;
    client_body_temp_path {workdir}/tmp-body;
    proxy_temp_path {workdir}/tmp-proxy;
    fastcgi_temp_path {workdir}/tmp-fastcgi;
    uwsgi_temp_path {workdir}/tmp-uwsgi;
    scgi_temp_path {workdir}/tmp-scgi;
    http2_max_concurrent_streams 32;
    server {{
        listen 127.0.0.1:{self.tls_port} ssl http2;
        listen 127.0.0.1:{self.clear_port} http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {self.docroot};
        location = /hello {{ return 200 "Hello, World!"; }}
        location = /empty {{ return 204; }}
        location = /trailers {{ add_trailer X-Checksum "c0ffee" always; }}
        {dav}
    }}
}}
"""
        )
        self.process = subprocess.Popen(
            [NGINX, "-c", str(config), "-p", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.error_log = workdir / "error.log"
        end = time.monotonic() + 10
        while time.monotonic() < end:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.tls_port), 0.2),
            ):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.process.stderr.read()!r}")  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nginx, str]]:
    workdir = tmp_path_factory.mktemp("nginx")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, cafile = workdir / "cert.pem", workdir / "key.pem", workdir / "ca.pem"
    leaf.private_key_pem.write_to_path(str(key))
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    ca.cert_pem.write_to_path(str(cafile))
    server = Nginx(workdir, str(cert), str(key))
    try:
        yield server, str(cafile)
    finally:
        server.stop()
        errors = [
            line
            for line in server.error_log.read_text(errors="replace").splitlines()
            if "[error]" in line or "[crit]" in line or "[alert]" in line
        ]
        assert not errors, errors  # nginx saw nothing it calls a client error


@pytest.fixture
async def client(nginx: tuple[Nginx, str]) -> AsyncIterator[Client]:
    async with Client(verify=nginx[1], timeout=Timeout(20.0)) as c:
        yield c


def url(server: Nginx, path: str) -> str:
    return f"https://127.0.0.1:{server.tls_port}{path}"


async def test_many_streams_beyond_nginx_stream_limit(
    nginx: tuple[Nginx, str], client: Client
) -> None:
    server = nginx[0]
    responses = await asyncio.gather(*(client.get(url(server, "/hello")) for _ in range(200)))
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert all(r.content == b"Hello, World!" for r in responses)
    assert client.get_pool_stats()["open"] <= 7  # 200 requests / 32 streams per connection


async def test_big_download_whole_and_streamed(nginx: tuple[Nginx, str], client: Client) -> None:
    server = nginx[0]
    r = await client.get(url(server, "/big.bin"))
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(server.big).digest()
    digest = hashlib.sha256()
    async with client.stream("GET", url(server, "/big.bin")) as streamed:
        async for chunk in streamed.aiter_bytes():
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(server.big).digest()
    # Two big downloads at once on one connection share its window without stalling.
    both = await asyncio.gather(*(client.get(url(server, "/big.bin")) for _ in range(2)))
    assert all(len(r.content) == BIG for r in both)


async def test_no_body_responses_and_conditional_requests(
    nginx: tuple[Nginx, str], client: Client
) -> None:
    server = nginx[0]
    empty = await client.get(url(server, "/empty"))
    assert (empty.status_code, empty.content) == (204, b"")
    head = await client.head(url(server, "/big.bin"))
    assert head.headers["content-length"] == str(BIG) and head.content == b""
    etag = (await client.get(url(server, "/small.txt"))).headers["etag"]
    not_modified = await client.get(url(server, "/small.txt"), headers={"If-None-Match": etag})
    assert (not_modified.status_code, not_modified.content) == (304, b"")
    missing = await client.get(url(server, "/nope"))
    assert missing.status_code == 404 and b"nginx" in missing.content


async def test_trailers(nginx: tuple[Nginx, str], client: Client) -> None:
    (nginx[0].docroot / "trailers").write_bytes(b"with trailers")
    r = await client.get(url(nginx[0], "/trailers"))
    assert r.content == b"with trailers"
    assert r.trailers["x-checksum"] == "c0ffee"


@pytest.mark.skipif(NGINX is None or not has_module("http_dav_module"), reason="no dav module")
async def test_big_uploads_in_memory_and_streamed(nginx: tuple[Nginx, str], client: Client) -> None:
    server = nginx[0]
    put = await client.put(url(server, "/dav/up.bin"), content=server.big)
    assert put.status_code in (201, 204)
    assert (await client.get(url(server, "/dav/up.bin"))).content == server.big

    async def pieces() -> AsyncIterator[bytes]:
        view = memoryview(server.big)
        for start in range(0, len(view), 100_000):
            yield bytes(view[start : start + 100_000])

    put = await client.put(url(server, "/dav/streamed.bin"), content=pieces())
    assert put.status_code in (201, 204)
    assert (await client.get(url(server, "/dav/streamed.bin"))).content == server.big


async def test_h2c_prior_knowledge(nginx: tuple[Nginx, str]) -> None:
    server = nginx[0]
    async with Client(http2="prior-knowledge", timeout=Timeout(10.0)) as c:
        base = f"http://127.0.0.1:{server.clear_port}"
        responses = await asyncio.gather(*(c.get(base + "/hello") for _ in range(50)))
        assert {r.http_version for r in responses} == {"HTTP/2"}
        r = await c.get(base + "/big.bin")
        assert r.content == server.big
