"""Data sets that ship with custseg: a synthetic look-alike of the 365 case study."""

from .demo import DEMO_LABELS, DEMO_TYPES, demo_spec_text, make_customers

__all__ = ["DEMO_LABELS", "DEMO_TYPES", "demo_spec_text", "make_customers"]
