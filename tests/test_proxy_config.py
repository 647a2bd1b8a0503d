"""Proxy configuration: ProxyURL, the forms of ``proxies=``, the environment (checklist PX-03).

The environment matrix is checked on the transport's proxy choice for a URL; the tests in
test_proxy_http.py check that the chosen proxy is really the one that carries the request.
"""

from __future__ import annotations

import pytest

from hyperhttp import URL, Client, InvalidURL, MockResponse, MockTransport, ProxyURL, Request
from hyperhttp._proxy import ProxyMap
from hyperhttp._proxy_env import NoProxy

from .scripted import SECRET

PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUEST_METHOD",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def chosen(url: str, proxies: object = None, trust_env: bool = True) -> str | None:
    proxy_map = ProxyMap.build(proxies, trust_env)  # type: ignore[arg-type]
    if proxy_map is None:
        return None
    proxy = proxy_map.for_url(URL(url))
    return None if proxy is None else str(proxy)


# -- ProxyURL ---------------------------------------------------------------------------------


def test_proxy_url_from_a_url_decodes_credentials_and_fills_the_port() -> None:
    proxy = ProxyURL("http://us%40er:p%3Ass@Proxy.Example:3128")
    assert (proxy.scheme, proxy.host, proxy.port) == ("http", "proxy.example", 3128)
    assert (proxy.username, proxy.password) == ("us@er", "p:ss")
    assert ProxyURL("http://proxy").port == 80
    assert ProxyURL("https://proxy").port == 443
    assert ProxyURL("socks5://proxy").port == 1080
    assert ProxyURL("socks5h://proxy:80").port == 80
    assert ProxyURL("http://[::1]:8080").authority == "[::1]:8080"


def test_proxy_url_from_parts_as_in_hyperhttp_2() -> None:
    proxy = ProxyURL("http", "proxy", 3128, "user", "pw", raw="http://user:pw@proxy:3128")
    assert proxy == ProxyURL("http://user:pw@proxy:3128")
    assert proxy.has_auth and not proxy.is_secure
    assert proxy.basic_auth_header() == "Basic dXNlcjpwdw=="
    assert ProxyURL("https", "proxy", 443).basic_auth_header() is None


def test_repr_str_and_pool_key_never_show_the_password() -> None:
    proxy = ProxyURL(f"http://user:{SECRET}@proxy:3128")
    for text in (repr(proxy), str(proxy), proxy.pool_key(), repr(ProxyMap.build(proxy, False))):
        assert SECRET not in text
        assert "user" not in text.replace("[user]", "")
    assert repr(proxy) == "ProxyURL('http://[user]:[secure]@proxy:3128')"
    parts = ProxyURL("http", "proxy", 3128, "user", SECRET, raw=f"http://user:{SECRET}@proxy")
    assert SECRET not in repr(parts)


def test_proxies_with_other_credentials_are_other_proxies() -> None:
    # Pool keys (PL-06): a connection opened with one user's credentials is never reused
    # for another's (curl CVE-2026-3784).
    a = ProxyURL("http://alice:one@proxy:3128")
    b = ProxyURL("http://bob:two@proxy:3128")
    c = ProxyURL("http://alice:two@proxy:3128")
    plain = ProxyURL("http://proxy:3128")
    assert len({a, b, c, plain, ProxyURL("http://alice:one@proxy:3128")}) == 4
    assert len({a.pool_key(), b.pool_key(), c.pool_key(), plain.pool_key()}) == 4
    assert ProxyURL("https://proxy:3128") != plain


@pytest.mark.parametrize(
    "text",
    [
        "",
        "proxy:3128",
        "ftp://proxy",
        "http://",
        "http://proxy/path",
        "http://proxy?q=1",
        "http://proxy:99999",
        "http://pro\nxy:3128",
        "http://pr%0axy:3128",
        f"http://user:{SECRET}@bad host:1",
    ],
)
def test_invalid_proxy_urls_are_invalid_url_errors_without_the_secret(text: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        ProxyURL(text)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("text", ["socks4://proxy:1080", "socks4a://proxy", "socks://proxy"])
def test_socks4_is_refused_by_name(text: str) -> None:
    with pytest.raises(InvalidURL, match="socks5"):
        ProxyURL(text)


def test_bad_parts_are_rejected() -> None:
    with pytest.raises(InvalidURL):
        ProxyURL("http", "proxy", 0)
    with pytest.raises(InvalidURL):
        ProxyURL("http", "", 80)
    with pytest.raises(TypeError):
        ProxyURL("http://proxy", port=80)


# -- proxies= ---------------------------------------------------------------------------------


def test_a_single_url_proxies_everything() -> None:
    assert chosen("http://a.test/", "http://p:1") == "http://p:1"
    assert chosen("https://a.test/", ProxyURL("http://p:1")) == "http://p:1"


@pytest.mark.parametrize("style", ["", "://"])
def test_mapping_keys_scheme_over_all_and_none_means_direct(style: str) -> None:
    proxies = {f"all{style}": "http://all:1", f"https{style}": None}
    assert chosen("http://a.test/", proxies) == "http://all:1"
    assert chosen("https://a.test/", proxies) is None
    proxies = {f"HTTP{style}": "http://h:1", f"https{style}": ProxyURL("http://s:2")}
    assert chosen("http://a.test/", proxies) == "http://h:1"
    assert chosen("https://a.test/", proxies) == "http://s:2"


def test_bad_mappings_are_rejected() -> None:
    with pytest.raises(InvalidURL):
        ProxyMap.build({"ftp": "http://p:1"}, False)
    with pytest.raises(InvalidURL):
        ProxyMap.build({"http://example.com": "http://p:1"}, False)
    with pytest.raises(ValueError, match="twice"):
        ProxyMap.build({"http": "http://p:1", "http://": "http://q:1"}, False)
    with pytest.raises(TypeError):
        ProxyMap.build(3128, False)  # type: ignore[arg-type]
    with pytest.raises(InvalidURL):
        Client(proxies={"http": "ftp://p:1"})


def test_explicit_proxies_replace_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env:1")
    monkeypatch.setenv("NO_PROXY", "a.test")
    assert chosen("https://a.test/", {"http": "http://mine:1"}) is None
    assert chosen("https://a.test/", "http://mine:1") == "http://mine:1"


async def test_a_custom_transport_gets_requests_unchanged_but_config_is_checked() -> None:
    # Routing is the transport's job: MockTransport sees the origin URL, no proxy header.
    seen: list[Request] = []

    def handler(request: Request) -> MockResponse:
        seen.append(request)
        return MockResponse(200, text="ok")

    async with Client(
        proxies=f"http://user:{SECRET}@proxy:3128", transport=MockTransport(handler)
    ) as client:
        response = await client.get("https://origin.test/x")
    assert response.text == "ok"
    assert str(seen[0].url) == "https://origin.test/x"
    assert "proxy-authorization" not in seen[0].headers
    with pytest.raises(InvalidURL):
        Client(proxies="socks4://proxy", transport=MockTransport(handler))


# -- the environment (PX-03) ----------------------------------------------------------------


def test_environment_is_read_only_with_trust_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env:1")
    assert chosen("http://a.test/") == "http://env:1"
    assert chosen("http://a.test/", trust_env=False) is None
    assert chosen("https://a.test/") is None


@pytest.mark.parametrize("name", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_lowercase_wins_over_uppercase(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    scheme = "https" if name == "HTTPS_PROXY" else "http"
    monkeypatch.setenv(name, "http://upper:1")
    assert chosen(f"{scheme}://a.test/") == "http://upper:1"
    monkeypatch.setenv(name.lower(), "http://lower:1")
    assert chosen(f"{scheme}://a.test/") == "http://lower:1"
    monkeypatch.setenv(name.lower(), "")  # empty means unset
    assert chosen(f"{scheme}://a.test/") == "http://upper:1"


def test_all_proxy_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5h://all:1080")
    monkeypatch.setenv("https_proxy", "http://s:1")
    assert chosen("http://a.test/") == "socks5h://all:1080"
    assert chosen("https://a.test/") == "http://s:1"


def test_a_proxy_without_scheme_in_the_environment_is_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("http_proxy", "proxy.test:3128")
    assert chosen("http://a.test/") == "http://proxy.test:3128"


def test_an_invalid_environment_proxy_fails_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", f"ftp://user:{SECRET}@proxy:21")
    with pytest.raises(InvalidURL) as caught:
        Client()
    assert SECRET not in str(caught.value)


def test_httpoxy_uppercase_http_proxy_is_ignored_in_cgi(monkeypatch: pytest.MonkeyPatch) -> None:
    # CVE-2016-1000110: in CGI a request's "Proxy:" header becomes HTTP_PROXY.
    monkeypatch.setenv("REQUEST_METHOD", "GET")
    monkeypatch.setenv("HTTP_PROXY", "http://attacker:1")
    assert chosen("http://a.test/") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://s:1")
    assert chosen("https://a.test/") == "http://s:1"
    monkeypatch.setenv("http_proxy", "http://admin-set:1")
    assert chosen("http://a.test/") == "http://admin-set:1"


def test_no_proxy_lowercase_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://env:1")
    monkeypatch.setenv("NO_PROXY", "a.test")
    assert chosen("http://a.test/") is None
    monkeypatch.setenv("no_proxy", "b.test")
    assert chosen("http://a.test/") == "http://env:1"
    assert chosen("http://b.test/") is None


@pytest.mark.parametrize(
    ("rules", "url", "bypass"),
    [
        ("example.com", "http://example.com/", True),
        ("example.com", "http://www.example.com/", True),
        ("example.com", "http://notexample.com/", False),
        ("example.com", "http://example.com.evil.test/", False),
        (".example.com", "http://www.example.com/", True),
        (".example.com", "http://example.com/", True),
        ("*.example.com", "http://a.b.example.com/", True),
        ("*.example.com", "http://xexample.com/", False),
        ("EXAMPLE.com", "http://Example.COM/", True),
        ("example.com.", "http://example.com/", True),
        ("*", "http://anything.test/", True),
        ("a.test, *", "http://b.test/", True),
        ("  a.test   b.test ", "http://b.test/", True),
        ("127.0.0.1", "http://127.0.0.1:8080/", True),
        ("127.0.0.1", "http://127.0.0.2/", False),
        ("10.0.0.0/8", "http://10.20.30.40/", True),
        ("10.0.0.0/8", "http://11.0.0.1/", False),
        ("10.0.0.0/8", "http://[::1]/", False),
        ("::1", "http://[::1]:8080/", True),
        ("[::1]", "http://[::1]/", True),
        ("[::1]:8080", "http://[::1]:8080/", True),
        ("[::1]:8080", "http://[::1]:8081/", False),
        ("fd00::/8", "http://[fd12::1]/", True),
        ("example.com:8080", "http://example.com:8080/", True),
        ("example.com:8080", "http://example.com/", False),
        ("example.com:80", "http://example.com/", True),
        ("http://example.com", "http://example.com/", True),
        ("http://example.com", "https://example.com/", False),
        ("https://example.com:8443/path", "https://example.com:8443/", True),
        ("https://example.com:8443/path", "https://example.com/", False),
        ("bücher.example", "http://xn--bcher-kva.example/", True),
        ("not a [valid entry, example.com", "http://example.com/", True),
        ("", "http://example.com/", False),
        ("10.0.0.0/33,example.com:port", "http://10.0.0.1/", False),
    ],
)
def test_no_proxy_rules(rules: str, url: str, bypass: bool) -> None:
    assert NoProxy(rules).matches(URL(url)) is bypass


def test_no_proxy_from_the_environment_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://env:1")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.0/8,[::1]")
    assert chosen("http://localhost:8080/") is None
    assert chosen("https://127.0.0.1/") is None
    assert chosen("https://[::1]/") is None
    assert chosen("https://example.com/") == "http://env:1"
