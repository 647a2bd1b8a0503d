"""docs/resilience.md and the code agree: the category tables and the option list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hyperhttp
from hyperhttp.errors.circuit_breaker import CircuitBreaker
from hyperhttp.errors.classifier import DEFAULT_RETRY_CATEGORIES, ErrorClassifier
from hyperhttp.errors.retry import RetryPolicy

DOC = Path(__file__).resolve().parent.parent / "docs" / "resilience.md"


def _table_after(heading_text: str, first_column: str) -> list[list[str]]:
    """The rows of the first markdown table after ``heading_text`` whose header starts with
    ``first_column``."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(heading_text)
    rows: list[list[str]] = []
    in_table = False
    for line in text[start:].splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not in_table:
                if cells[0] != first_column:
                    continue
                in_table = True
                continue
            if set(cells[0]) <= set("-: "):
                continue
            rows.append(cells)
        elif in_table:
            break
    assert rows, f"no table under {heading_text!r}"
    return rows


EXCEPTION_ROWS = _table_after("### Categories", "exception")


def _exception_rows() -> list[tuple[str, str, bool, bool]]:
    out = []
    for name, category, retried, counts in EXCEPTION_ROWS:
        out.append((name.strip("`"), category, retried == "yes", counts == "yes"))
    return out


@pytest.mark.parametrize(("name", "category", "retried", "counts"), _exception_rows())
def test_exception_table_matches_code(
    name: str, category: str, retried: bool, counts: bool
) -> None:
    if name == "any other exception":
        samples: list[Exception] = [
            hyperhttp.DecompressionError("x"),
            hyperhttp.StreamConsumed("x"),
            hyperhttp.TooManyRedirects("x"),
            hyperhttp.ResponseTooLarge("x"),
        ]
    else:
        cls = getattr(hyperhttp, name)
        assert ErrorClassifier.ERROR_MAPPING[cls] == category
        samples = [cls("x")]
    request = hyperhttp.Request("GET", "https://example.com/")
    for error in samples:
        assert ErrorClassifier.categorize(error) == category
        note = RetryPolicy().retry_note_for_exception(request, error, category)
        assert (note == "") is retried, (error, note)
        assert CircuitBreaker().counts_error(error) is counts


def test_exception_table_lists_every_hyperhttp_class_in_the_mapping() -> None:
    documented = {row[0] for row in _exception_rows()}
    mapped = {
        cls.__name__
        for cls in ErrorClassifier.ERROR_MAPPING
        if cls.__module__.startswith("hyperhttp")
    }
    assert mapped == documented - {"any other exception"}


def test_status_table_matches_code() -> None:
    rows = _table_after("Statuses (for", "status")
    table = {status: category for status, category in rows}
    assert table == {
        "408": "TIMEOUT",
        "429": "RATE_LIMIT",
        "500-599": "SERVER",
        "other 400-499": "CLIENT",
    }
    for code in range(100, 600):
        expected = None
        if code == 408:
            expected = "TIMEOUT"
        elif code == 429:
            expected = "RATE_LIMIT"
        elif code >= 500:
            expected = "SERVER"
        elif code >= 400:
            expected = "CLIENT"
        assert ErrorClassifier.categorize_status(code) == expected


def test_default_retry_categories_sentence() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"So `RetryPolicy\(\)` retries ([A-Z_,\s and]+?);", text)
    assert match is not None
    named = set(re.findall(r"[A-Z_]{3,}", match.group(1)))
    assert named == DEFAULT_RETRY_CATEGORIES
    assert all(ErrorClassifier.is_retryable(c) for c in named)


def test_every_retry_policy_option_is_documented() -> None:
    rows = _table_after("## Retries: `RetryPolicy`", "option")
    documented = {row[0].strip("`") for row in rows}
    assert documented == set(RetryPolicy.__slots__)
