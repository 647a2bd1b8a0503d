"""HTTP/2 client against independent servers on loopback: hypercorn (PyPI) and nghttpd
(Debian's nghttp2-server, installed by ``make``; these tests skip when it is missing).

TLS uses a trustme CA; ALPN picks h2, or http/1.1 from a server that offers only that.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trustme

from hyperhttp import Client, Timeout

NGHTTPD = shutil.which("nghttpd")
needs_nghttpd = pytest.mark.skipif(
    NGHTTPD is None,
    reason="nghttpd not installed (Debian package nghttp2-server; `make test` installs it "
    "where apt-get is available)",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, deadline: float = 10.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    directory = tmp_path_factory.mktemp("h2certs")
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert = directory / "cert.pem"
    key = directory / "key.pem"
    cafile = directory / "ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(cafile))
    return str(cert), str(key), str(cafile)


class Hypercorn:
    """hypercorn serving ``tests.h2_asgi_app:app`` in its own process."""

    def __init__(self, tls: tuple[str, str] | None, alpn: list[str], workdir: Path) -> None:
        self.port = free_port()
        config = workdir / f"hypercorn-{self.port}.toml"
        lines = [f'bind = ["127.0.0.1:{self.port}"]', f"alpn_protocols = {alpn!r}"]
        if tls is not None:
            lines += [f"certfile = {tls[0]!r}", f"keyfile = {tls[1]!r}"]
        config.write_text("\n".join(lines).replace("'", '"') + "\n")
        self.scheme = "https" if tls else "http"
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hypercorn", "-c", str(config), "tests.h2_asgi_app:app"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> Hypercorn:
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def hypercorn_tls(
    cert_files: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hypercorn]:
    server = Hypercorn(cert_files[:2], ["h2", "http/1.1"], tmp_path_factory.mktemp("hc")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hypercorn_h1_only(
    cert_files: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hypercorn]:
    server = Hypercorn(cert_files[:2], ["http/1.1"], tmp_path_factory.mktemp("hc")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hypercorn_clear(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hypercorn]:
    server = Hypercorn(None, ["h2", "http/1.1"], tmp_path_factory.mktemp("hc")).start()
    yield server
    server.stop()


@pytest.fixture
async def tls_client(cert_files: tuple[str, str, str]) -> AsyncIterator[Client]:
    async with Client(verify=cert_files[2], timeout=Timeout(10.0)) as client:
        yield client
    await settle()


async def settle() -> None:
    """Let closed TLS connections finish their close_notify exchange before the loop ends."""
    await asyncio.sleep(0.3)


# -- hypercorn --------------------------------------------------------------------------------


async def test_hypercorn_alpn_negotiates_h2(hypercorn_tls: Hypercorn, tls_client: Client) -> None:
    r = await tls_client.get(hypercorn_tls.url + "/hello")
    assert r.http_version == "HTTP/2"
    assert r.headers["x-http-version"] == "2"
    assert r.content == b"GET /hello"


async def test_hypercorn_many_concurrent_streams_on_one_connection(
    hypercorn_tls: Hypercorn, tls_client: Client
) -> None:
    responses = await asyncio.gather(
        *(tls_client.get(f"{hypercorn_tls.url}/sleep") for _ in range(60))
    )
    assert all(r.content == b"slept" for r in responses)
    assert tls_client.get_pool_stats()["open"] == 1


async def test_hypercorn_large_bodies_both_ways(
    hypercorn_tls: Hypercorn, tls_client: Client
) -> None:
    body = os.urandom(5 * 1024 * 1024 + 3)
    r = await tls_client.post(hypercorn_tls.url + "/echo", content=body)
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(body).digest()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 100_000):
            yield body[start : start + 100_000]

    r = await tls_client.post(hypercorn_tls.url + "/echo", content=chunks())
    assert r.content == body  # 2.1.0 cut streamed uploads at 65,535 bytes
    r = await tls_client.get(hypercorn_tls.url + f"/bytes/{8 * 1024 * 1024}")
    assert len(r.content) == 8 * 1024 * 1024


async def test_hypercorn_head_and_no_body_statuses(
    hypercorn_tls: Hypercorn, tls_client: Client
) -> None:
    r = await tls_client.head(hypercorn_tls.url + "/bytes/1000")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["content-length"] == "1000"
    for status in (204, 304):
        r = await tls_client.get(f"{hypercorn_tls.url}/status/{status}")
        assert r.status_code == status and r.content == b""


async def test_hypercorn_streaming_and_early_close(
    hypercorn_tls: Hypercorn, tls_client: Client
) -> None:
    async with tls_client.stream("GET", hypercorn_tls.url + "/bytes/20000000") as r:
        async for chunk in r.aiter_bytes():
            assert chunk
            break
    r = await tls_client.get(hypercorn_tls.url + "/after")
    assert r.content == b"GET /after"
    assert tls_client.get_pool_stats()["open"] == 1


async def test_alpn_falls_back_to_http11(hypercorn_h1_only: Hypercorn, tls_client: Client) -> None:
    responses = await asyncio.gather(
        *(tls_client.get(hypercorn_h1_only.url + "/x") for _ in range(5))
    )
    assert {r.http_version for r in responses} == {"HTTP/1.1"}
    assert {r.headers["x-http-version"] for r in responses} == {"1.1"}


async def test_http2_false_forces_http11(
    hypercorn_tls: Hypercorn, cert_files: tuple[str, str, str]
) -> None:
    async with Client(http2=False, verify=cert_files[2]) as client:
        r = await client.get(hypercorn_tls.url + "/x")
    await settle()
    assert r.http_version == "HTTP/1.1"
    assert r.headers["x-http-version"] == "1.1"


async def test_hypercorn_h2c_prior_knowledge(hypercorn_clear: Hypercorn) -> None:
    async with Client(http2="prior-knowledge") as client:
        responses = await asyncio.gather(
            *(client.get(hypercorn_clear.url + f"/{i}") for i in range(20))
        )
        assert {r.http_version for r in responses} == {"HTTP/2"}
        assert client.get_pool_stats()["open"] == 1
    async with Client() as client:  # http2=True: cleartext stays HTTP/1.1 (no h2c upgrade)
        r = await client.get(hypercorn_clear.url + "/x")
        assert r.http_version == "HTTP/1.1"
    await settle()


def test_http2_option_is_validated() -> None:
    with pytest.raises(ValueError):
        Client(http2="yes")  # type: ignore[arg-type]


# -- nghttpd ----------------------------------------------------------------------------------


class Nghttpd:
    def __init__(self, docroot: Path, tls: tuple[str, str] | None) -> None:
        assert NGHTTPD is not None
        self.port = free_port()
        args = [NGHTTPD, "--echo-upload", "-d", str(docroot), "127.0.0.1"]
        args[-1:] = []  # nghttpd takes the port, then key and cert
        args += ["--address=127.0.0.1", str(self.port)]
        if tls is None:
            args.insert(1, "--no-tls")
        else:
            cert, key = tls
            args += [key, cert]
        self.scheme = "https" if tls else "http"
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


@pytest.fixture(scope="module")
def docroot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("nghttpd")
    (directory / "small.txt").write_bytes(b"hello from nghttpd\n")
    (directory / "big.bin").write_bytes(bytes(range(256)) * (4 * 4096 + 1))
    return directory


@pytest.fixture(scope="module")
def nghttpd_tls(docroot: Path, cert_files: tuple[str, str, str]) -> Iterator[Nghttpd]:
    if NGHTTPD is None:
        pytest.skip("nghttpd not installed")
    server = Nghttpd(docroot, cert_files[:2])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nghttpd_clear(docroot: Path) -> Iterator[Nghttpd]:
    if NGHTTPD is None:
        pytest.skip("nghttpd not installed")
    server = Nghttpd(docroot, None)
    yield server
    server.stop()


@needs_nghttpd
async def test_nghttpd_tls_get_concurrent_and_big(
    nghttpd_tls: Nghttpd, tls_client: Client, docroot: Path
) -> None:
    r = await tls_client.get(nghttpd_tls.url + "/small.txt")
    assert r.http_version == "HTTP/2"
    assert r.content == b"hello from nghttpd\n"
    big = (docroot / "big.bin").read_bytes()
    responses = await asyncio.gather(
        *(tls_client.get(nghttpd_tls.url + "/big.bin") for _ in range(20))
    )
    assert all(r.content == big for r in responses)
    assert tls_client.get_pool_stats()["open"] == 1


@needs_nghttpd
async def test_nghttpd_tls_echo_upload(nghttpd_tls: Nghttpd, tls_client: Client) -> None:
    body = os.urandom(3 * 1024 * 1024)
    r = await tls_client.post(nghttpd_tls.url + "/small.txt", content=body)
    assert r.status_code == 200
    assert r.content == body


@needs_nghttpd
async def test_nghttpd_h2c_prior_knowledge(nghttpd_clear: Nghttpd) -> None:
    async with Client(http2="prior-knowledge") as client:
        r = await client.get(nghttpd_clear.url + "/small.txt")
        assert r.http_version == "HTTP/2"
        assert r.content == b"hello from nghttpd\n"
        r = await client.get(nghttpd_clear.url + "/missing")
        assert r.status_code == 404


@needs_nghttpd
async def test_nghttpd_verifies_the_certificate(nghttpd_tls: Nghttpd) -> None:
    from hyperhttp import TLSError

    context = ssl.create_default_context()  # system roots: the trustme CA is unknown
    async with Client(verify=context) as client:
        with pytest.raises(TLSError):
            await client.get(nghttpd_tls.url + "/small.txt")
    await settle()
