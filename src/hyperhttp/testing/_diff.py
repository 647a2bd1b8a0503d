"""The "closest expectation" report added to every no-handler response and assertion."""

from __future__ import annotations

from typing import Any

from werkzeug import Request

from ._handlers import RequestHandler

__all__ = ["closest_expectations"]

#: how many expectations the report shows
MAX_SHOWN = 3
_WEIGHTS = {"uri": 8, "method": 4, "query_string": 2, "headers": 2, "data": 1, "json": 1}
_LABELS = {
    "uri": "path",
    "method": "method",
    "query_string": "query",
    "headers": "headers",
    "data": "body",
    "json": "json body",
}


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def closest_expectations(request: Request, handlers: list[tuple[str, RequestHandler]]) -> str:
    """A readable report: the expectations closest to ``request``, each with its field diff.

    ``handlers`` pairs a kind label ("ordered", "oneshot", "permanent") with each handler.
    Returns an empty string when there is no expectation at all.
    """
    if not handlers:
        return "\n\nNo expectations are registered."
    scored = []
    for index, (kind, handler) in enumerate(handlers):
        try:
            diff = handler.matcher.difference(request)
        except Exception as exc:  # a user matcher that raises must not hide the report
            diff = [("error", type(exc).__name__, str(exc))]
        score = sum(_WEIGHTS.get(name, 1) for name, _, _ in diff)
        scored.append((score, index, kind, handler, diff))
    scored.sort(key=lambda item: (item[0], item[1]))
    lines = ["", "", f"Closest expectations (of {len(handlers)}), best first:"]
    for rank, (_, _, kind, handler, diff) in enumerate(scored[:MAX_SHOWN], start=1):
        lines.append(f"  {rank}. [{kind}] {handler.matcher!r}")
        if not diff:
            lines.append("       matches, but was not reachable (an ordered expectation is due)")
        for name, actual, expected in diff:
            label = _LABELS.get(name, name)
            if name == "headers":
                for header, want in expected.items():
                    got = actual.get(header)
                    lines.append(
                        f"       header {header}: expected {_short(want)}, got {_short(got)}"
                    )
            else:
                lines.append(f"       {label}: expected {_short(expected)}, got {_short(actual)}")
    return "\n".join(lines)
