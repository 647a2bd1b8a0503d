"""HTTP/2 frame layout (RFC 9113 §4.1, §6, §7, §11): codes, flags and frame building.

Only constants and a few pure functions, shared by our client codec; no state.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = [
    "ERROR_NAMES",
    "FRAME_HEADER",
    "FRAME_HEADER_SIZE",
    "MAX_WINDOW",
    "PREFACE",
    "frame",
    "goaway",
    "rst_stream",
    "settings",
    "window_update",
]

PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# length (24 bits, as 8 + 16), type, flags, stream id (31 bits + reserved).
FRAME_HEADER: Final = struct.Struct(">BHBBL")
FRAME_HEADER_SIZE: Final = 9
_U32: Final = struct.Struct(">L")
_U32_PAIR: Final = struct.Struct(">LL")
_SETTING: Final = struct.Struct(">HL")
# RFC 9113 §6.9.1: a flow-control window may not exceed 2^31 - 1.
MAX_WINDOW: Final = 2**31 - 1
STREAM_ID_MASK: Final = 0x7FFFFFFF

# Frame types (§6).
DATA: Final = 0x0
HEADERS: Final = 0x1
PRIORITY: Final = 0x2
RST_STREAM: Final = 0x3
SETTINGS: Final = 0x4
PUSH_PROMISE: Final = 0x5
PING: Final = 0x6
GOAWAY: Final = 0x7
WINDOW_UPDATE: Final = 0x8
CONTINUATION: Final = 0x9

# Flags.
FLAG_END_STREAM: Final = 0x1
FLAG_ACK: Final = 0x1
FLAG_END_HEADERS: Final = 0x4
FLAG_PADDED: Final = 0x8
FLAG_PRIORITY: Final = 0x20

# Error codes (§7).
NO_ERROR: Final = 0x0
PROTOCOL_ERROR: Final = 0x1
INTERNAL_ERROR: Final = 0x2
FLOW_CONTROL_ERROR: Final = 0x3
STREAM_CLOSED: Final = 0x5
FRAME_SIZE_ERROR: Final = 0x6
REFUSED_STREAM: Final = 0x7
CANCEL: Final = 0x8
COMPRESSION_ERROR: Final = 0x9
ENHANCE_YOUR_CALM: Final = 0xB
ERROR_NAMES: Final = {
    0x0: "NO_ERROR",
    0x1: "PROTOCOL_ERROR",
    0x2: "INTERNAL_ERROR",
    0x3: "FLOW_CONTROL_ERROR",
    0x4: "SETTINGS_TIMEOUT",
    0x5: "STREAM_CLOSED",
    0x6: "FRAME_SIZE_ERROR",
    0x7: "REFUSED_STREAM",
    0x8: "CANCEL",
    0x9: "COMPRESSION_ERROR",
    0xA: "CONNECT_ERROR",
    0xB: "ENHANCE_YOUR_CALM",
    0xC: "INADEQUATE_SECURITY",
    0xD: "HTTP_1_1_REQUIRED",
}

# SETTINGS identifiers (§6.5.2).
SETTINGS_HEADER_TABLE_SIZE: Final = 0x1
SETTINGS_ENABLE_PUSH: Final = 0x2
SETTINGS_MAX_CONCURRENT_STREAMS: Final = 0x3
SETTINGS_INITIAL_WINDOW_SIZE: Final = 0x4
SETTINGS_MAX_FRAME_SIZE: Final = 0x5
SETTINGS_MAX_HEADER_LIST_SIZE: Final = 0x6
# §4.2: SETTINGS_MAX_FRAME_SIZE must lie in [2^14, 2^24 - 1].
MIN_MAX_FRAME_SIZE: Final = 2**14
MAX_MAX_FRAME_SIZE: Final = 2**24 - 1


def error_name(code: int) -> str:
    """The RFC name of an error code (hex for codes it does not define)."""
    return ERROR_NAMES.get(code, f"0x{code:x}")


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame: the 9-byte header and ``payload``."""
    length = len(payload)
    return FRAME_HEADER.pack(length >> 16, length & 0xFFFF, kind, flags, stream_id) + payload


def settings(values: dict[int, int]) -> bytes:
    """A SETTINGS frame carrying ``values``."""
    payload = b"".join(_SETTING.pack(key, value) for key, value in values.items())
    return frame(SETTINGS, 0, 0, payload)


def window_update(stream_id: int, increment: int) -> bytes:
    """A WINDOW_UPDATE frame (``stream_id`` 0: the connection)."""
    return frame(WINDOW_UPDATE, 0, stream_id, _U32.pack(increment))


def rst_stream(stream_id: int, error_code: int) -> bytes:
    """An RST_STREAM frame."""
    return frame(RST_STREAM, 0, stream_id, _U32.pack(error_code))


def goaway(last_stream_id: int, error_code: int, debug: bytes = b"") -> bytes:
    """A GOAWAY frame."""
    return frame(GOAWAY, 0, 0, _U32_PAIR.pack(last_stream_id, error_code) + debug)


def unpack_u32(payload: bytes, offset: int = 0) -> int:
    """A 32-bit big-endian integer from ``payload``."""
    value: int = _U32.unpack_from(payload, offset)[0]
    return value


def unpack_settings(payload: bytes) -> list[tuple[int, int]]:
    """The (identifier, value) pairs of a SETTINGS payload (length already checked)."""
    return list(_SETTING.iter_unpack(payload))
