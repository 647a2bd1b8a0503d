"""Shared fixtures: scripted loopback servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from ssl import SSLContext

import pytest

from .scripted import Script, ScriptedServer

ServerFactory = Callable[..., Awaitable[ScriptedServer]]


@pytest.fixture
async def scripted() -> AsyncIterator[ServerFactory]:
    """``await scripted(script)`` starts a ScriptedServer on 127.0.0.1, closed after the test."""
    servers: list[ScriptedServer] = []

    async def start(
        script: Script, host: str = "127.0.0.1", ssl: SSLContext | None = None
    ) -> ScriptedServer:
        server = await ScriptedServer(script, host=host, ssl=ssl).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.aclose()
