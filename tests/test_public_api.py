"""The public surface: __all__ is sorted, complete and importable (drift fails here)."""

import hyperhttp


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions/variables.
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_unique() -> None:
    assert list(hyperhttp.__all__) == sorted(set(hyperhttp.__all__), key=_isort_key)


def test_every_name_in_all_is_importable() -> None:
    for name in hyperhttp.__all__:
        assert hasattr(hyperhttp, name), name


def test_every_public_attribute_is_in_all() -> None:
    public = {
        name
        for name, value in vars(hyperhttp).items()
        if not name.startswith("_") and not getattr(value, "__name__", "").startswith("hyperhttp.")
    }
    # submodules (hyperhttp.errors, hyperhttp.testing, ...) are reached as attributes, not names
    public -= {n for n, v in vars(hyperhttp).items() if type(v).__name__ == "module"}
    assert public <= set(hyperhttp.__all__), sorted(public - set(hyperhttp.__all__))


def test_every_public_name_has_a_docstring() -> None:
    for name in hyperhttp.__all__:
        value = getattr(hyperhttp, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"


def test_every_exception_is_in_the_tree() -> None:
    for name in hyperhttp.__all__:
        value = getattr(hyperhttp, name)
        if (
            isinstance(value, type)
            and issubclass(value, Exception)
            and not issubclass(value, Warning)
        ):
            assert issubclass(value, hyperhttp.HyperHTTPError), name
