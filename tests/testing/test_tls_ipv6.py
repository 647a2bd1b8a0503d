"""TLS out of the box and IPv6 (::1)."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest
import requests

from hyperhttp.testing import HTTPServer, HTTPServerError, TestCertificates


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="no ::1 on this host")


def test_tls_server_with_generated_certificate() -> None:
    with HTTPServer(tls=True) as server:
        server.expect_request("/secure").respond_with_json({"tls": True})
        assert server.url_for("/secure").startswith("https://localhost:")
        assert requests.get(server.url_for("/secure"), verify=server.ca_file).json() == {
            "tls": True
        }
        connection = http.client.HTTPSConnection(
            "localhost", server.port, context=server.client_ssl_context(), timeout=5
        )
        try:
            connection.request("GET", "/secure")
            assert connection.getresponse().read() == b'{\n    "tls": true\n}'
        finally:
            connection.close()
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(server.url_for("/secure"))  # not trusted by default
        request, _ = server.log[0]
        assert request.scheme == "https"


def test_tls_with_user_context() -> None:
    certs = TestCertificates()
    with HTTPServer(host="127.0.0.1", ssl_context=certs.server_ssl_context()) as server:
        server.expect_request("/").respond_with_data("mine")
        assert requests.get(server.url_for("/"), verify=certs.ca_file).text == "mine"
        with pytest.raises(HTTPServerError, match="no generated certificate"):
            server.client_ssl_context()
    assert certs.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_httpsserver_fixture(httpsserver: HTTPServer) -> None:
    httpsserver.expect_request("/f").respond_with_data("fixture")
    assert requests.get(httpsserver.url_for("/f"), verify=httpsserver.ca_file).text == "fixture"


def test_client_context_verifies_hostname() -> None:
    with HTTPServer(host="127.0.0.1", tls=True) as server:
        context = server.client_ssl_context()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        server.expect_request("/").respond_with_data("ip")
        assert requests.get(server.url_for("/"), verify=server.ca_file).text == "ip"


@needs_ipv6
def test_ipv6_server() -> None:
    with HTTPServer(host="::1") as server:
        server.expect_request("/six").respond_with_data("v6")
        assert server.url_for("/six") == f"http://[::1]:{server.port}/six"
        assert requests.get(server.url_for("/six")).text == "v6"
        assert server.log[0][0].remote_addr == "::1"


def test_localhost_serves_every_resolved_address_on_one_port() -> None:
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 0, type=socket.SOCK_STREAM)}
    with HTTPServer() as server:
        server.expect_request("/").respond_with_data("all")
        for address in addresses:
            host = f"[{address}]" if ":" in address else address
            assert requests.get(f"http://{host}:{server.port}/").text == "all"


@needs_ipv6
def test_ipv4_and_ipv6_fixtures(httpserver_ipv4: HTTPServer, httpserver_ipv6: HTTPServer) -> None:
    httpserver_ipv4.expect_request("/").respond_with_data("4")
    httpserver_ipv6.expect_request("/").respond_with_data("6")
    assert httpserver_ipv4.host == "127.0.0.1" and httpserver_ipv6.host == "::1"
    assert requests.get(httpserver_ipv4.url_for("/")).text == "4"
    assert requests.get(httpserver_ipv6.url_for("/")).text == "6"


def test_tls_ipv6() -> None:
    if not ipv6_available():
        pytest.skip("no ::1")
    with HTTPServer(host="::1", tls=True) as server:
        server.expect_request("/").respond_with_data("tls6")
        assert requests.get(server.url_for("/"), verify=server.ca_file).text == "tls6"
