"""Customer lifetime value: purchase models, a spend model, holdout validation.

The core of ``custseg clv`` (no files, no printing). From per-customer
``frequency``, ``recency``, ``T`` and ``monetary_value`` in the ``lifetimes``
convention (:mod:`custseg.rfm`, ``convention="lifetimes"``):

* a purchase model (:data:`PURCHASE_MODELS`: ``bgnbd`` (default), ``mbgnbd``,
  ``paretonbd``) fitted by maximum likelihood on the distinct histories
  (:mod:`.fit`), giving each customer's probability of being alive and expected
  purchases over a horizon;
* the Gamma-Gamma spend model (:mod:`.gammagamma`), giving the expected
  average purchase value;
* lifetime value over a horizon in months with a monthly discount rate
  (:mod:`.value`), the calibration/holdout check (:mod:`.holdout`) and figures
  per segment (:mod:`.segments`).

Modules: ``data`` (collapsed histories), ``bgnbd``, ``paretonbd``,
``gammagamma`` (one model per file), ``fit`` (maximum likelihood), ``value``
(fitting both models, scoring customers), ``models`` (the registry, scoring
with saved parameters), ``holdout``, ``segments``. The edge ``flow`` reads the log and writes the outputs.
"""

from .bgnbd import BGNBD, MBGNBD
from .data import Histories, collapse
from .fit import FitResult, fit
from .gammagamma import GAMMAGAMMA, SpendData
from .models import PURCHASE_MODELS, model_section, predict
from .paretonbd import PARETONBD

__all__ = ["PURCHASE_MODELS", "BGNBD", "MBGNBD", "PARETONBD", "GAMMAGAMMA", "Histories",
           "SpendData", "collapse", "fit", "FitResult", "model_section", "predict"]
