"""TLS against a local trustme-certified server (checklist §1.5: TLS-01..09, P-04).

The server is the scripted server with an ``ssl.SSLContext``; the CA is trustme's, so it is
trusted only when a test says so.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
    ScriptedServer,
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


# -- TLS-07 / P-04: a verify=False connection is never lent to a verifying client ---------------


@pytest.mark.filterwarnings("ignore::hyperhttp.InsecureRequestWarning")
@pytest.mark.parametrize("insecure_first", [True, False], ids=["insecure-first", "secure-first"])
async def test_insecure_and_verifying_clients_never_share_a_connection(
    scripted: ServerFactory, ca: trustme.CA, insecure_first: bool
) -> None:
    """TLS-07, P-04: the same untrusted origin, in either order: the verify=False client gets
    its answer, the default one a TLSError, even while the insecure connection sits idle."""
    url = await tls_server(scripted, ca, "127.0.0.1")
    async with Client(verify=False) as insecure, Client() as secure:
        if insecure_first:
            assert (await insecure.get(url)).content == b"ok"
            assert insecure.get_pool_stats()["idle"] == 1
        with pytest.raises(TLSError) as info:
            await secure.get(with_userinfo(url))
        check_error(info.value)
        assert secure.get_pool_stats() == EMPTY
        assert (await insecure.get(url)).content == b"ok"
        with pytest.raises(TLSError):  # and again, with the insecure connection pooled
            await secure.get(url)
        assert secure.get_pool_stats() == EMPTY


# -- TLS-01: self-signed and expired certificates -----------------------------------------------


def _self_signed(*names: str) -> tuple[bytes, bytes]:
    """A self-signed certificate (its own issuer) for ``names``: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _context_from_pem(tmp_path: Path, cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    cert_file, key_file = tmp_path / "server-cert.pem", tmp_path / "server-key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_file), str(key_file))
    context.set_alpn_protocols(["http/1.1"])
    return context


async def test_self_signed_certificate_is_rejected(
    scripted: ServerFactory, ca_file: str, tmp_path: Path
) -> None:
    """TLS-01: a self-signed leaf fails with the default roots and with an unrelated CA."""
    context = _context_from_pem(tmp_path, *_self_signed("127.0.0.1"))
    server = await scripted(keep_alive(ok), ssl=context)
    for verify in (True, ca_file):
        async with Client(verify=verify) as client:
            with pytest.raises(TLSError) as info:
                await client.get(with_userinfo(server.url))
            check_error(info.value)
            assert "self-signed" in str(info.value).lower() or "self signed" in str(info.value)
            assert client.get_pool_stats() == EMPTY
    assert server.requests == []  # no request byte was sent over it


async def test_expired_certificate_is_rejected(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    """TLS-01: a certificate from a trusted CA, past its notAfter, fails and says why."""
    now = datetime.datetime.now(datetime.timezone.utc)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    ).configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    server = await scripted(keep_alive(ok), ssl=context)
    async with Client(verify=ca_file) as client:
        with pytest.raises(TLSError) as info:
            await client.get(with_userinfo(server.url))
        check_error(info.value)
        assert "expired" in str(info.value).lower()
        assert client.get_pool_stats() == EMPTY
    assert server.requests == []


# -- TLS-02: names the certificate does not cover -----------------------------------------------


def _leaf_signed_by(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    common_name: str,
    sans: list[str],
) -> tuple[bytes, bytes]:
    """A leaf for ``common_name`` with ``sans`` (none: no SAN extension at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in sans]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class OwnCA(NamedTuple):
    key: ec.EllipticCurvePrivateKey
    name: x509.Name
    file: str


@pytest.fixture(scope="module")
def own_ca(tmp_path_factory: pytest.TempPathFactory) -> OwnCA:
    """A CA built here, to sign leaves trustme cannot make (trustme always adds SANs)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hyperhttp test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("own-ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return OwnCA(key, name, str(path))


def resolve_to_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names under ``example.test`` resolve to 127.0.0.1 for the running loop (no DNS);
    returns the names looked up."""
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    looked_up: list[str] = []

    async def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> object:
        if isinstance(host, str) and host.rstrip(".").endswith("example.test"):
            looked_up.append(host)
            host = "127.0.0.1"
        return await real(host, port, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return looked_up


async def _named_server(
    scripted: ServerFactory,
    own_ca: OwnCA,
    tmp_path: Path,
    common_name: str,
    sans: list[str],
) -> int:
    leaf = _leaf_signed_by(own_ca.key, own_ca.name, common_name, sans)
    context = _context_from_pem(tmp_path, *leaf)
    server = await scripted(keep_alive(ok), ssl=context)
    return server.port


async def test_common_name_without_san_is_not_a_match(
    scripted: ServerFactory,
    own_ca: OwnCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS-02: no fallback to the subject CN when the certificate has no SAN (RFC 6125 §6.4.4,
    CA/Browser Forum: SAN required)."""
    looked_up = resolve_to_loopback(monkeypatch)
    port = await _named_server(scripted, own_ca, tmp_path, "cn-only.example.test", [])
    async with Client(verify=own_ca.file) as client:
        with pytest.raises(TLSError) as info:
            await client.get(with_userinfo(f"https://cn-only.example.test:{port}/"))
        check_error(info.value)
        assert client.get_pool_stats() == EMPTY
    assert looked_up == ["cn-only.example.test"]


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("a.example.test", True),
        ("a.b.example.test", False),  # a wildcard covers one label only
        ("example.test", False),  # and never the bare parent
    ],
)
async def test_wildcard_covers_exactly_one_label(
    scripted: ServerFactory,
    own_ca: OwnCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    matches: bool,
) -> None:
    """TLS-02: ``*.example.test`` (RFC 6125 §6.4.3)."""
    resolve_to_loopback(monkeypatch)
    port = await _named_server(scripted, own_ca, tmp_path, "*.example.test", ["*.example.test"])
    async with Client(verify=own_ca.file) as client:
        if matches:
            assert (await client.get(f"https://{host}:{port}/")).content == b"ok"
        else:
            with pytest.raises(TLSError) as info:
                await client.get(with_userinfo(f"https://{host}:{port}/"))
            check_error(info.value)
            assert client.get_pool_stats() == EMPTY


async def _sni_recording_server(
    scripted: ServerFactory, own_ca: OwnCA, tmp_path: Path, name: str
) -> tuple[ScriptedServer, list[str | None]]:
    """A TLS server with a certificate for ``name``, recording the SNI names it is sent."""
    names: list[str | None] = []
    leaf = _leaf_signed_by(own_ca.key, own_ca.name, name, [name])
    context = _context_from_pem(tmp_path, *leaf)
    context.sni_callback = lambda ssl_object, sent, ctx: names.append(sent)  # type: ignore[assignment,misc]
    return await scripted(keep_alive(ok), ssl=context), names


async def test_trailing_dot_host(
    scripted: ServerFactory,
    own_ca: OwnCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS-02/TLS-03: ``a.example.test.`` (the absolute form) against a certificate for
    ``a.example.test``."""
    resolve_to_loopback(monkeypatch)
    server, names = await _sni_recording_server(scripted, own_ca, tmp_path, "a.example.test")
    async with Client(verify=own_ca.file) as client:
        r = await client.get(f"https://a.example.test.:{server.port}/")
    assert r.content == b"ok"
    # the name is checked, sent in SNI and in Host without the root label's dot
    assert names == ["a.example.test"]
    assert server.requests[0].header(b"host") == f"a.example.test:{server.port}".encode()


async def test_idn_host_is_sent_as_its_a_label(
    scripted: ServerFactory,
    own_ca: OwnCA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """TLS-03: an IDN host goes out as its A-label in SNI, in the certificate check and in
    Host (IDNA 2008, as the URL already holds it)."""
    looked_up = resolve_to_loopback(monkeypatch)
    a_label = "xn--bcher-kva.example.test"
    server, names = await _sni_recording_server(scripted, own_ca, tmp_path, a_label)
    async with Client(verify=own_ca.file) as client:
        r = await client.get(f"https://bücher.example.test:{server.port}/")
    assert r.content == b"ok"
    assert names == [a_label]
    assert looked_up == [a_label]
    assert server.requests[0].header(b"host") == f"{a_label}:{server.port}".encode()


# -- TLS-04: the ALPN offer -------------------------------------------------------------------


def _alpn_offer(client_hello: bytes) -> list[str] | None:
    """The protocol names in a ClientHello's ALPN extension (RFC 7301 §3.1), None if absent.

    ``client_hello`` is one TLS record: record header, handshake header, then the hello.
    """
    assert client_hello[0] == 0x16 and client_hello[5] == 0x01, "not a ClientHello"
    at = 5 + 4 + 2 + 32  # record header, handshake header, legacy_version, random
    at += 1 + client_hello[at]  # session id
    at += 2 + int.from_bytes(client_hello[at : at + 2], "big")  # cipher suites
    at += 1 + client_hello[at]  # compression methods
    end = at + 2 + int.from_bytes(client_hello[at : at + 2], "big")
    at += 2
    while at < end:
        kind = int.from_bytes(client_hello[at : at + 2], "big")
        size = int.from_bytes(client_hello[at + 2 : at + 4], "big")
        data = client_hello[at + 4 : at + 4 + size]
        at += 4 + size
        if kind == 16:  # application_layer_protocol_negotiation
            names, i = [], 2
            while i < len(data):
                names.append(data[i + 1 : i + 1 + data[i]].decode("ascii"))
                i += 1 + data[i]
            return names
    return None


@pytest.mark.parametrize(
    ("http2", "offer"), [(True, ["h2", "http/1.1"]), (False, ["http/1.1"])], ids=["h2", "h1"]
)
async def test_alpn_offer_in_the_client_hello(
    scripted: ServerFactory, ca_file: str, http2: bool, offer: list[str]
) -> None:
    """TLS-04: h2 first, then http/1.1; http/1.1 alone when HTTP/2 is off. Read from the bytes
    of the ClientHello (the ssl module has no server-side ALPN callback to ask)."""
    hellos: list[bytes] = []

    async def read_client_hello(conn: ServerConn) -> None:
        header = await conn.reader.readexactly(5)
        hellos.append(header + await conn.reader.readexactly(int.from_bytes(header[3:], "big")))
        await conn.close()

    server = await scripted(read_client_hello)
    async with Client(verify=ca_file, http2=http2) as client:
        with pytest.raises(TransportError):
            await client.get(server.url.replace("http://", "https://"))
    assert len(hellos) == 1
    assert _alpn_offer(hellos[0]) == offer


async def test_server_without_alpn_gets_http11(
    scripted: ServerFactory, ca: trustme.CA, ca_file: str
) -> None:
    """TLS-04: a server that negotiates no protocol at all is spoken to in HTTP/1.1."""
    seen: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)  # and no set_alpn_protocols
    server = await scripted(recording_alpn(seen), ssl=context)  # type: ignore[arg-type]
    async with Client(verify=ca_file) as client:
        r = await client.get(server.url)
        assert r.content == b"ok"
        assert r.http_version == "HTTP/1.1"
        assert (await client.get(server.url)).content == b"ok"
    assert seen == [None]
    assert server.accepted == 1


# -- TLS-05: TLS 1.2 is the floor -------------------------------------------------------------


def _tls11_server_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server that speaks at most TLS 1.1; skips the test when OpenSSL here cannot."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", key_type=trustme.KeyType.RSA).configure_cert(context)
    try:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError) as exc:
        pytest.skip(f"this OpenSSL cannot configure a TLS 1.1 server: {exc}")
    # Prove it can complete a TLS 1.1 handshake at all, in memory, with a willing client.
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname = False
    client.verify_mode = ssl.CERT_NONE
    client.minimum_version = ssl.TLSVersion.TLSv1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    pipes = [(ssl.MemoryBIO(), ssl.MemoryBIO()) for _ in range(2)]
    c = client.wrap_bio(pipes[0][0], pipes[0][1])
    s = context.wrap_bio(pipes[1][0], pipes[1][1], server_side=True)
    try:
        for _ in range(10):
            for ssl_object in (c, s):
                try:
                    ssl_object.do_handshake()
                except ssl.SSLWantReadError:
                    pass
            pipes[1][0].write(pipes[0][1].read())
            pipes[0][0].write(pipes[1][1].read())
        if c.version() != "TLSv1.1":
            pytest.skip("this OpenSSL does not complete a TLS 1.1 handshake")
    except ssl.SSLError as exc:
        pytest.skip(f"this OpenSSL refuses TLS 1.1: {exc}")
    return context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
async def test_tls11_only_server_is_refused(ca: trustme.CA, ca_file: str) -> None:
    """TLS-05: the default minimum is TLS 1.2, even with the CA trusted.

    A blocking server in a thread: it sends the protocol_version alert before closing (an
    asyncio server drops the connection without flushing it, which proves less).
    """
    context = _tls11_server_context(ca)
    listener = socket.create_server(("127.0.0.1", 0))
    outcome: list[str] = []

    def serve() -> None:
        with listener:
            listener.settimeout(10)
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(10)
                try:
                    context.wrap_socket(conn, server_side=True).close()
                    outcome.append("handshake completed")
                except ssl.SSLError as exc:
                    outcome.append(str(exc.reason))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        async with Client(verify=ca_file) as client:
            with pytest.raises(TLSError) as info:
                await client.get(with_userinfo(url))
            check_error(info.value)
            assert "protocol_version" in str(info.value).lower()
            assert client.get_pool_stats() == EMPTY
    finally:
        await asyncio.to_thread(thread.join, 10)
    assert outcome == ["UNSUPPORTED_PROTOCOL"]


async def test_a_server_hanging_up_mid_handshake_gives_a_readable_error(ca_file: str) -> None:
    # asyncio reports this as a ConnectionResetError without any message: the error must
    # still say what happened rather than end in "...: ".
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the ClientHello has started
        writer.transport.abort()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(verify=ca_file) as client:
            with pytest.raises(TransportError) as info:
                await client.get(f"https://127.0.0.1:{port}/")
    finally:
        server.close()
        await server.wait_closed()
    message = str(info.value)
    assert not message.rstrip().endswith(":"), message
    assert info.value.request is not None
