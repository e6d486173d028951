"""Rows with more or fewer fields than the header: how to say so, and how to fix it."""

from __future__ import annotations

from .text import WHITESPACE_SEP, delimiter_name

__all__ = ["ragged_fix"]


def ragged_fix(sep: str) -> str:
    """The fix for a row with more fields than the header, in a file delimited by ``sep``."""
    if sep == WHITESPACE_SEP:
        return 'quote values that contain spaces (e.g. "New York")'
    example = "" if sep == "\t" else f' (e.g. "Smith{sep} John")'
    return f"quote fields that contain the {delimiter_name(sep)}{example}, or remove the extra delimiter"
