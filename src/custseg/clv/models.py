"""The registry of purchase models, and predictions from saved parameters.

:data:`PURCHASE_MODELS` maps a name to its model (the first is the default).
:func:`predict` scores customers with parameters saved in a ``clv.json`` or in the
``clv`` section of a ``model.json`` (:func:`model_section`), without refitting.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import ModelError
from .bgnbd import BGNBD, MBGNBD
from .paretonbd import PARETONBD
from .value import UNITS, score_customers

__all__ = ["PURCHASE_MODELS", "model_section", "predict", "SECTION_KEYS"]

#: purchase models by name (the first is the default)
PURCHASE_MODELS = {m.name: m for m in (BGNBD, MBGNBD, PARETONBD)}
#: the keys of a saved section
SECTION_KEYS = ("model", "unit", "as_of", "params", "spend_params", "horizon_months", "discount_rate")


def model_section(summary: dict[str, Any]) -> dict[str, Any]:
    """What scoring needs of a ``clv.json`` summary (the ``clv`` section of ``model.json``)."""
    return {k: summary[k] for k in SECTION_KEYS}


def predict(section: dict[str, Any], customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` (``frequency``, ``recency``, ``T`` in the section's unit,
    ``monetary_value``) with ``p_alive``, ``expected_purchases``, ``expected_avg_value``, ``clv``."""
    model = PURCHASE_MODELS.get(section.get("model"))
    if model is None or section.get("unit") not in UNITS:
        raise ModelError(f"unknown lifetime value model {section.get('model')!r} or unit "
                         f"{section.get('unit')!r}", fix="refit with custseg clv or custseg run")
    params = [float(section["params"][n]) for n in model.param_names]
    spend = [float(section["spend_params"][n]) for n in ("p", "q", "v")]
    return score_customers(customers, model, params, spend, unit=section["unit"],
                           horizon_months=float(section["horizon_months"]),
                           discount_rate=float(section["discount_rate"]))
