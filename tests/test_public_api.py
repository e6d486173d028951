"""The flat public API: __all__ lists exactly the public names, and each resolves."""

import custseg


def test_all_lists_the_public_names():
    assert set(custseg.__all__) == {"__version__", *custseg._EXPORTS}
    for name in custseg.__all__:
        assert getattr(custseg, name) is not None


def test_version_matches_package_metadata():
    from importlib.metadata import version

    assert custseg.__version__ == version("custseg")


def test_unknown_attribute():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        custseg.nope  # noqa: B018
