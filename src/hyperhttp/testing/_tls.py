"""TLS out of the box: one trustme CA per process, server and client contexts from it."""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
import threading
from typing import Any

__all__ = ["TestCertificates", "default_certificates"]

_DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")


class TestCertificates:
    """A trustme CA with a server certificate for localhost, 127.0.0.1 and ::1.

    ``server_ssl_context()`` serves with it; ``client_ssl_context()`` trusts it; ``ca_file``
    is a PEM path for clients that want a file (``requests``' ``verify=``, curl's
    ``--cacert``, ``SSL_CERT_FILE``).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, hostnames: tuple[str, ...] = _DEFAULT_NAMES) -> None:
        import trustme

        self._ca: Any = trustme.CA()
        self._cert: Any = self._ca.issue_cert(*hostnames)
        self._dir: str | None = None
        self._lock = threading.Lock()

    def server_ssl_context(self, *, http2: bool = False) -> ssl.SSLContext:
        """A server-side context presenting the localhost certificate.

        ALPN offers ``http/1.1``, and with ``http2=True`` ``h2`` first.
        """
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        context.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client-side context that trusts this CA (hostname checking on)."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self._ca.configure_trust(context)
        return context

    @property
    def ca_file(self) -> str:
        """Path of the CA certificate in PEM (written on first use, removed at exit)."""
        with self._lock:
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="hyperhttp-testing-ca-")
                atexit.register(shutil.rmtree, self._dir, True)
                self._ca.cert_pem.write_to_path(os.path.join(self._dir, "ca.pem"))
            return os.path.join(self._dir, "ca.pem")

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM."""
        data: bytes = self._ca.cert_pem.bytes()
        return data


_default: TestCertificates | None = None
_default_lock = threading.Lock()


def default_certificates() -> TestCertificates:
    """The process-wide certificates (created on first use: generating keys takes ~50 ms)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = TestCertificates()
        return _default
