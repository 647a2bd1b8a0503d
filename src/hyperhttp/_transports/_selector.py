"""Picks the connection class (HTTP/1.1 or HTTP/2) once TLS is up and ALPN known."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ._h1_connection import HTTP11Connection
from ._h2_connection import HTTP2Connection

if TYPE_CHECKING:
    from ._pool import ConnectionPool, Origin

__all__ = ["Connection", "ProtocolSelector"]

Connection = HTTP11Connection | HTTP2Connection


class ProtocolSelector(asyncio.Protocol):
    """Picks the connection class once TLS is up and ALPN known, then steps aside.

    asyncio calls ``connection_made`` after the handshake; the selector hands the transport
    to the chosen connection with ``set_protocol`` before any application byte is read.
    After ``loop.start_tls`` (TLS through a proxy tunnel) the caller makes that call itself,
    and bytes may arrive first: they are kept and handed to the connection in order.
    """

    def __init__(
        self, pool: ConnectionPool, origin: Origin, offer_h2: bool, ping_interval: float | None
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._offer_h2 = offer_h2
        self._ping_interval = ping_interval
        self._early: list[bytes] = []
        self._early_eof = False
        self.conn: Connection | None = None

    def protocol(self) -> asyncio.BaseProtocol:
        return self.conn if self.conn is not None else self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        selected = None
        if self._offer_h2:
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                selected = ssl_object.selected_alpn_protocol()
        conn: Connection
        if selected == "h2":
            conn = HTTP2Connection(self._pool, self._origin, self._ping_interval)
        else:
            conn = HTTP11Connection(self._pool, self._origin)
        conn.slot_released = True  # until the transport hands it to the pool
        self.conn = conn
        transport.set_protocol(conn)
        conn.connection_made(transport)
        early, self._early = self._early, []
        for data in early:
            conn.data_received(data)
        if self._early_eof:
            conn.eof_received()

    def data_received(self, data: bytes) -> None:
        self._early.append(data)

    def eof_received(self) -> bool:
        self._early_eof = True
        return True  # keep the transport open until the connection has seen the bytes
