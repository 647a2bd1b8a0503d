"""Event hooks: user callables run around every network attempt.

``{"request": [...], "response": [...]}``; each hook may be sync or async. Request hooks run
just before a request goes to the transport (their header mutations are sent); response
hooks run once the response head has arrived, before its body is read. They run for every
attempt: each redirect hop and each auth round (and each retry). A hook's exception
propagates to the caller.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

__all__ = ["HOOK_EVENTS", "EventHooks", "normalize_hooks", "run_hooks"]

HOOK_EVENTS: Final = ("request", "response")

EventHooks = dict[str, list[Callable[[Any], Any]]]


def normalize_hooks(event_hooks: Mapping[str, Iterable[Callable[[Any], Any]]] | None) -> EventHooks:
    """A fresh ``{"request": [...], "response": [...]}`` from what the user gave."""
    hooks: EventHooks = {event: [] for event in HOOK_EVENTS}
    for event, callables in (event_hooks or {}).items():
        if event not in hooks:
            raise ValueError(f"unknown event hook {event!r}; use 'request' or 'response'")
        items: list[Callable[[Any], Any]] = [callables] if callable(callables) else list(callables)
        for hook in items:
            if not callable(hook):
                raise TypeError(f"event hooks must be callables, not {type(hook).__name__}")
        hooks[event] = items
    return hooks


async def run_hooks(hooks: list[Callable[[Any], Any]], argument: Any) -> None:
    """Call each hook with ``argument``, awaiting the async ones, in order."""
    for hook in hooks:
        result = hook(argument)
        if inspect.isawaitable(result):
            await result
