"""TLS against a local trustme-certified server (checklist §1.5: TLS-01, 02, 04, 06, 08, 09).

The server is the scripted server with an ``ssl.SSLContext``; the CA is trustme's, so it is
trusted only when a test says so.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from hyperhttp import (
    Client,
    ConnectError,
    InsecureRequestWarning,
    RemoteProtocolError,
    TLSError,
    TransportError,
)

from .conftest import ServerFactory
from .scripted import (
    SECRET,
    RawRequest,
    ServerConn,
    check_error,
    keep_alive,
    response,
    with_userinfo,
)

EMPTY = {"open": 0, "idle": 0, "active": 0, "waiting": 0, "origins": 0}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(autouse=True)
def no_ca_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests decide what is trusted; the machine's SSL_CERT_* variables must not."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    yield


def server_context(
    ca: trustme.CA, *identities: str, require_client_cert: bool = False
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*identities).configure_cert(context)
    # The scripted server speaks HTTP/1.1 only, so that is all it offers: the client's offer
    # of h2 first falls back to http/1.1 (HTTP/2 over TLS is tested in test_h2_interop.py).
    context.set_alpn_protocols(["http/1.1"])
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    return context


def ok(request: RawRequest) -> bytes:
    return response(b"ok")


def recording_alpn(seen: list[str | None]) -> object:
    async def script(conn: ServerConn) -> None:
        seen.append(conn.alpn_protocol)
        await keep_alive(ok)(conn)

    return script


async def tls_server(scripted: ServerFactory, ca: trustme.CA, *identities: str) -> str:
    server = await scripted(keep_alive(ok), ssl=server_context(ca, *identities))
    return server.url


# -- TLS-01: verification is on by default ----------------------------------------------------


async def test_default_verification_rejects_an_untrusted_ca(
    scripted: ServerFactory, ca: trustme.CA
) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    async with Client() as client:
        with pytest.raises(TLSError) as info:
            await client.get(with_userinfo(url))
        check_error(info.value)
        assert isinstance(info.value, ConnectError)
        assert "certificate" in str(info.value).lower()
        # TLS-08: the failed handshake left nothing open
        assert client.get_pool_stats() == EMPTY


@pytest.mark.parametrize("as_path", [False, True], ids=["str", "Path"])
async def test_verify_with_a_ca_bundle_file(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str, as_path: bool
) -> None:
    seen: list[str | None] = []
    server = await scripted(recording_alpn(seen), ssl=server_context(ca, "127.0.0.1"))  # type: ignore[arg-type]
    async with Client(verify=Path(ca_file) if as_path else ca_file) as client:
        for _ in range(3):
            assert (await client.get(server.url)).content == b"ok"
        assert server.accepted == 1  # keep-alive over TLS
    # TLS-04: ALPN falls back to http/1.1 when the server does not offer h2
    assert seen == ["http/1.1"]


async def test_verify_with_an_ssl_context(scripted: ServerFactory, ca: trustme.CA) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with Client(verify=context) as client:
        assert (await client.get(url)).content == b"ok"
    async with Client(ssl_context=context) as client:
        assert (await client.get(url)).content == b"ok"


async def test_verify_false_connects_and_warns(scripted: ServerFactory, ca: trustme.CA) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    with pytest.warns(InsecureRequestWarning):
        async with Client(verify=False) as client:
            assert (await client.get(url)).content == b"ok"


# -- TLS-02: names --------------------------------------------------------------------------


async def test_hostname_mismatch_is_rejected(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    url = await tls_server(scripted, ca, "example.test")  # but we connect to 127.0.0.1
    async with Client(verify=ca_file) as client:
        with pytest.raises(TLSError) as info:
            await client.get(with_userinfo(url))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY


async def test_dns_san_does_not_match_an_ip_literal(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    url = await tls_server(scripted, ca, "localhost")
    async with Client(verify=ca_file) as client:
        with pytest.raises(TLSError):
            await client.get(url)


async def test_ipv6_literal_matches_its_ip_san(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    try:
        server = await scripted(keep_alive(ok), host="::1", ssl=server_context(ca, "::1"))
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert server.url.startswith("https://[::1]:")
    async with Client(verify=ca_file) as client:
        assert (await client.get(server.url)).content == b"ok"


@pytest.mark.parametrize(
    ("host", "expected_sni"), [("127.0.0.1", None), ("localhost", "localhost")]
)
async def test_sni_is_sent_for_names_only(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str, host: str, expected_sni: str | None
) -> None:
    """TLS-03: SNI carries a DNS name, never an IP literal (RFC 6066 §3)."""
    names: list[str | None] = []
    context = server_context(ca, "127.0.0.1", "localhost")
    context.sni_callback = lambda ssl_object, name, ctx: names.append(name)  # type: ignore[assignment,misc]
    server = await scripted(keep_alive(ok), ssl=context)
    async with Client(verify=ca_file) as client:
        assert (await client.get(f"https://{host}:{server.port}/")).content == b"ok"
    assert names == [expected_sni]


# -- TLS-06: client certificates --------------------------------------------------------------


@pytest.fixture(scope="module")
def client_cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cert = ca.issue_cert("client.example.test")
    folder = tmp_path_factory.mktemp("client")
    paths = {
        "cert": folder / "cert.pem",
        "key": folder / "key.pem",
        "both": folder / "both.pem",
        "encrypted_key": folder / "encrypted.pem",
        "garbage": folder / "garbage.pem",
    }
    cert.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    cert.private_key_pem.write_to_path(str(paths["key"]))
    cert.private_key_and_cert_chain_pem.write_to_path(str(paths["both"]))
    key = serialization.load_pem_private_key(cert.private_key_pem.bytes(), password=None)
    paths["encrypted_key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(SECRET.encode()),
        )
    )
    paths["garbage"].write_text("-----BEGIN CERTIFICATE-----\nnot base64\n")
    return {name: str(path) for name, path in paths.items()}


def client_cert_options(files: dict[str, str]) -> list[object]:
    return [
        (files["cert"], files["key"]),
        files["both"],
        (files["cert"], files["encrypted_key"], SECRET),
        (files["cert"], files["encrypted_key"], SECRET.encode()),
    ]


@pytest.mark.parametrize("form", ["two-files", "one-file", "str-password", "bytes-password"])
async def test_client_certificate_is_presented(
    scripted: ServerFactory,
    ca: trustme.CA,
    ca_file: str,
    client_cert_files: dict[str, str],
    form: str,
) -> None:
    peers: list[object] = []

    async def record_peer(conn: ServerConn) -> None:
        peers.append(conn.writer.get_extra_info("peercert"))
        await keep_alive(ok)(conn)

    context = server_context(ca, "127.0.0.1", require_client_cert=True)
    server = await scripted(record_peer, ssl=context)
    forms = ["two-files", "one-file", "str-password", "bytes-password"]
    cert = client_cert_options(client_cert_files)[forms.index(form)]
    async with Client(verify=ca_file, cert=cert) as client:  # type: ignore[arg-type]
        assert (await client.get(server.url)).content == b"ok"
    assert len(peers) == 1
    assert "client.example.test" in repr(peers[0])


async def test_server_requiring_a_client_certificate_rejects_us_without_one(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    context = server_context(ca, "127.0.0.1", require_client_cert=True)
    server = await scripted(keep_alive(ok), ssl=context)
    async with Client(verify=ca_file) as client:
        with pytest.raises(TransportError) as info:
            await client.get(with_userinfo(server.url))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY


@pytest.mark.parametrize(
    "bad",
    ["missing", "garbage", "key-mismatch", "wrong-password", "no-password"],
)
def test_bad_client_certificate_fails_at_construction(
    client_cert_files: dict[str, str], tmp_path: Path, bad: str
) -> None:
    files = client_cert_files
    cert: object = {
        "missing": str(tmp_path / "nope.pem"),
        "garbage": files["garbage"],
        "key-mismatch": (files["cert"], files["garbage"]),
        "wrong-password": (files["cert"], files["encrypted_key"], "wrong-" + SECRET),
        "no-password": (files["cert"], files["encrypted_key"], None),
    }[bad]
    with pytest.raises(TLSError) as info:
        Client(cert=cert)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_missing_ca_bundle_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(TLSError):
        Client(verify=str(tmp_path / "no-such-ca.pem"))


# -- trust_env ------------------------------------------------------------------------------


@pytest.mark.parametrize("trust_env", [True, False])
async def test_ssl_cert_file_is_honoured_only_with_trust_env(
    scripted: ServerFactory,
    ca: trustme.CA,
    ca_file: str,
    monkeypatch: pytest.MonkeyPatch,
    trust_env: bool,
) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    async with Client(trust_env=trust_env) as client:
        if trust_env:
            assert (await client.get(url)).content == b"ok"
        else:
            with pytest.raises(TLSError):
                await client.get(url)


@pytest.fixture
def ca_dir(ca: trustme.CA, tmp_path: Path) -> str:
    """A CA directory as OpenSSL reads it: the certificate named ``<subject hash>.0``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to name the file by subject hash")
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    subject_hash = subprocess.run(
        [openssl, "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout.strip()
    pem.rename(tmp_path / f"{subject_hash}.0")
    return str(tmp_path)


async def test_ssl_cert_dir_is_honoured_with_trust_env(
    scripted: ServerFactory, ca: trustme.CA, ca_dir: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    monkeypatch.setenv("SSL_CERT_DIR", ca_dir)
    async with Client() as client:
        assert (await client.get(url)).content == b"ok"
    async with Client(verify=ca_dir) as client:  # a directory works as verify= too
        assert (await client.get(url)).content == b"ok"


# -- TLS-09: protocol confusion fails fast ----------------------------------------------------


async def test_plain_http_to_a_tls_port_fails_fast(scripted: ServerFactory, ca: trustme.CA) -> None:
    url = await tls_server(scripted, ca, "127.0.0.1")
    loop = asyncio.get_running_loop()
    async with Client(timeout=5.0) as client:
        started = loop.time()
        # the TLS server drops the connection on a non-TLS first flight
        with pytest.raises(TransportError) as info:
            await client.get(with_userinfo(url.replace("https://", "http://")))
        assert loop.time() - started < 2.0
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY


async def test_tls_to_a_plain_port_fails_fast(scripted: ServerFactory) -> None:
    async def plain_http_server(conn: ServerConn) -> None:
        await conn.reader.read(1024)  # a ClientHello, not a request: answer like a server
        await conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await conn.wait_for_eof()

    server = await scripted(plain_http_server)
    loop = asyncio.get_running_loop()
    async with Client(timeout=5.0) as client:
        started = loop.time()
        with pytest.raises(TLSError) as info:
            await client.get(with_userinfo(server.url.replace("http://", "https://")))
        assert loop.time() - started < 2.0
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY


# -- F-21: a body delimited by the close, over TLS ----------------------------------------------


def _close_delimited_tls_server(ca: trustme.CA, close_notify: bool) -> tuple[int, threading.Thread]:
    """One TLS connection answered with a body that runs until the close; the close either
    sends close_notify (``unwrap``) or is a bare TCP FIN (Python's ``close`` sends none)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            listener.settimeout(10)
            conn, _ = listener.accept()
            conn.settimeout(10)
            tls = context.wrap_socket(conn, server_side=True)
            tls.recv(65536)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello")
            if close_notify:
                tls.unwrap().close()
            else:
                tls.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
@pytest.mark.parametrize("close_notify", [True, False], ids=["close_notify", "bare-fin"])
def test_tls_body_until_close_needs_close_notify(
    ca: trustme.CA, ca_file: str, loop_name: str, close_notify: bool
) -> None:
    # RFC 9112 §9.8: without the closure alert the body may have been cut; never report it
    # as complete.
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    port, thread = _close_delimited_tls_server(ca, close_notify)

    async def fetch() -> bytes:
        async with Client(verify=ca_file, http2=False) as client:
            return (await client.get(f"https://127.0.0.1:{port}/")).content

    try:
        if close_notify:
            assert loop.run_until_complete(fetch()) == b"hello"
        else:
            with pytest.raises(RemoteProtocolError) as info:
                loop.run_until_complete(fetch())
            assert info.value.request is not None
    finally:
        loop.close()
        thread.join(10)
