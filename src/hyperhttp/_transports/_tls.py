"""TLS client contexts: verification on by default, certifi roots, ALPN.

``verify`` may be ``True`` (certifi's roots, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when
``trust_env``), ``False`` (no verification: warns with :class:`InsecureRequestWarning`), a CA
bundle path (file or directory), or a ready ``ssl.SSLContext`` (used as given, ALPN added).
"""

from __future__ import annotations

import os
import ssl
import warnings
from collections.abc import Sequence

import certifi

from .._exceptions import TLSError

__all__ = ["CertTypes", "InsecureRequestWarning", "VerifyTypes", "create_ssl_context"]

VerifyTypes = bool | str | os.PathLike[str] | ssl.SSLContext
CertTypes = str | tuple[str, str] | tuple[str, str, str | bytes | None]


class InsecureRequestWarning(UserWarning):
    """TLS certificate verification was turned off with ``verify=False``."""


def create_ssl_context(
    verify: VerifyTypes = True,
    cert: CertTypes | None = None,
    *,
    trust_env: bool = True,
    alpn_protocols: Sequence[str] = ("http/1.1",),
) -> ssl.SSLContext:
    """Build the client context. Bad files or passwords raise ``TLSError`` here, not later."""
    if isinstance(verify, ssl.SSLContext):
        context = verify
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # TLS 1.2 is the floor every maintained server meets (RFC 8996 deprecates 1.0/1.1).
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if verify is False:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            warnings.warn(
                "TLS certificate verification is disabled (verify=False): "
                "connections can be intercepted",
                InsecureRequestWarning,
                stacklevel=3,
            )
        else:
            context.verify_mode = ssl.CERT_REQUIRED
            context.check_hostname = True
            # RFC 6125 §6.4.4: names come from the SAN only. Python's contexts still fall
            # back to the subject CN of a certificate without one (checklist TLS-02).
            context.hostname_checks_common_name = False
            _load_roots(context, verify, trust_env)
    if cert is not None:
        _load_client_cert(context, cert)
    try:
        context.set_alpn_protocols(list(alpn_protocols))
    except NotImplementedError:  # pragma: no cover - OpenSSL without ALPN
        pass
    return context


def _load_roots(context: ssl.SSLContext, verify: object, trust_env: bool) -> None:
    try:
        if isinstance(verify, (str, os.PathLike)):
            path = os.fspath(verify)
            if os.path.isdir(path):
                context.load_verify_locations(capath=path)
            else:
                context.load_verify_locations(cafile=path)
            return
        if trust_env:
            cafile = os.environ.get("SSL_CERT_FILE")
            capath = os.environ.get("SSL_CERT_DIR")
            if cafile and os.path.isfile(cafile):
                context.load_verify_locations(cafile=cafile)
                return
            if capath and os.path.isdir(capath):
                context.load_verify_locations(capath=capath)
                return
        context.load_verify_locations(cafile=certifi.where())
    except (OSError, ssl.SSLError) as exc:
        raise TLSError(f"could not load CA certificates: {type(exc).__name__}") from None


def _load_client_cert(context: ssl.SSLContext, cert: CertTypes) -> None:
    if isinstance(cert, str):
        certfile, keyfile, password = cert, None, None
    elif len(cert) == 2:
        certfile, keyfile, password = cert[0], cert[1], None
    else:
        certfile, keyfile, password = cert[0], cert[1], cert[2]
    try:
        context.load_cert_chain(certfile, keyfile, password)
    except (OSError, ssl.SSLError, ValueError) as exc:
        # Never echo the password; the exception type says enough to act on.
        raise TLSError(f"could not load the client certificate: {type(exc).__name__}") from None
