"""hyperhttp.testing's public surface: sorted, complete, documented (drift fails here)."""

from __future__ import annotations

import hyperhttp.testing as testing


def _ruff_order(name: str) -> tuple[int, str]:
    # ruff RUF022 ("isort-style"): CONSTANTS, then Classes, then functions
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_unique() -> None:
    assert list(testing.__all__) == sorted(set(testing.__all__), key=_ruff_order)


def test_all_is_complete_and_importable() -> None:
    for name in testing.__all__:
        assert hasattr(testing, name), name
    public = {
        name
        for name, value in vars(testing).items()
        if not name.startswith("_") and type(value).__name__ != "module"
    }
    assert public == set(testing.__all__), sorted(public ^ set(testing.__all__))


def test_every_public_name_has_a_docstring() -> None:
    for name in testing.__all__:
        value = getattr(testing, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
        if isinstance(value, type):
            for attr, member in vars(value).items():
                if not attr.startswith("_") and callable(member):
                    assert (member.__doc__ or "").strip(), f"{name}.{attr} has no docstring"
