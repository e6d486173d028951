"""Data sets that ship with custseg: a synthetic look-alike of the 365 case study."""

from .demo import DEMO_LABELS, DEMO_TYPES, demo_spec_text, make_customers

__all__ = ["DEMO_LABELS", "DEMO_TYPES", "demo_spec_text", "make_customers"]
from .transactions import PERIOD_END, PERIOD_START, make_transactions  # noqa: E402

__all__ += ["PERIOD_END", "PERIOD_START", "make_transactions"]
from .campaign import PLANTED_LIFT, customer_ids, make_campaign  # noqa: E402

__all__ += ["PLANTED_LIFT", "customer_ids", "make_campaign"]
