"""Reason phrases for status codes (the client never trusts the wire's phrase to be text)."""

from __future__ import annotations

from http import HTTPStatus

__all__ = ["reason_phrase_for"]

_PHRASES: dict[int, str] = {status.value: status.phrase for status in HTTPStatus}


def reason_phrase_for(status_code: int) -> str:
    """The standard phrase for ``status_code``, or ``""`` for codes without one."""
    return _PHRASES.get(status_code, "")
