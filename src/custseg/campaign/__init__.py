"""Campaign and A/B test results by segment: test what the segments suggest.

The core (pure, DataFrames and counts in, plain data out):

* :mod:`~custseg.campaign.stats`: Wilson and Newcombe intervals, the score test,
  Holm and Benjamini-Hochberg, Welch and bootstrap intervals, the interaction
  test, the sample-ratio check, minimum detectable effects and sample sizes.
* :mod:`~custseg.campaign.columns`: guess and check the results' columns and arms.
* :mod:`~custseg.campaign.analyze`: counts per segment and arm (DuckDB), then
  every comparison; :mod:`~custseg.campaign.summary`: verdicts and sentences.
* :mod:`~custseg.campaign.plan`: customers needed per arm and segment.

The edge, :mod:`~custseg.campaign.files`, reads the results and the run and
writes ``campaign.json``, ``campaign.csv`` and ``report.html``
(:func:`analyze_campaign`, :func:`plan_from_run`).
"""

from __future__ import annotations

from .analyze import CampaignOptions, analyze_cells, cell_table
from .files import analyze_campaign, analyze_frame, plan_from_run, write_campaign
from .plan import plan_campaign

__all__ = ["analyze_campaign", "analyze_frame", "plan_from_run", "write_campaign",
           "plan_campaign", "analyze_cells", "cell_table", "CampaignOptions"]
