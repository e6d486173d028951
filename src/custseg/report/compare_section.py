"""Render a comparison of two runs (custseg.compare) as Markdown and HTML sections."""

from __future__ import annotations

import html

from jinja2 import Environment

__all__ = ["render_compare_markdown", "render_compare_html"]


def _md(text) -> str:
    s = "" if text is None else str(text)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("|", "\\|").replace("\n", " ")


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def render_compare_markdown(result: dict) -> str:
    rec = result["recommendation"]
    lines = ["# Comparison of segmentations", "",
             f"**Recommendation: {rec['action']}**", ""]
    lines += [f"- {_md(r)}" for r in rec["reasons"]] or ["- no threshold crossed"]
    lines += ["", "## Segments", "", "| old | name | new | old share | new share | change |",
              "|---|---|---|---|---|---|"]
    for s in result["size_shifts"]:
        lines.append(f"| {s['old']} | {_md(s['name'])} | "
                     f"{'vanished' if s['new'] is None else s['new']} | {_pct(s['old_share'])} | "
                     f"{_pct(s['new_share'])} | {_pct(s['change'])} |")
    align = result.get("alignment") or {}
    if align.get("appeared"):
        lines += ["", f"New segments without a predecessor: {align['appeared']}"]
    mig = result.get("migration")
    lines += ["", "## Migration", ""]
    if mig:
        lines.append(f"{mig['customers_in_both']:,} customers in both runs; "
                     f"{_pct(mig['moved_share'])} changed segment.")
        lines += ["", "| old \\ new | " + " | ".join(str(j) for j in range(len(mig["matrix"][0])))
                  + " |", "|---" * (len(mig["matrix"][0]) + 1) + "|"]
        for i, row in enumerate(mig["matrix"]):
            lines.append(f"| {i} | " + " | ".join(f"{v:,}" for v in row) + " |")
    else:
        lines.append(_md(result.get("migration_note")))
    lines += ["", "## Drift", "", "| feature | PSI | KS | verdict |", "|---|---|---|---|"]
    for name, d in result["drift"].items():
        ks = "n/a" if d.get("ks") is None else f"{d['ks']:.3f}"
        lines.append(f"| {_md(name)} | {d['psi']:.3f} | {ks} | {d['verdict']} |")
    lines += ["", "Thresholds: " + ", ".join(f"{k} = {v}" for k, v in rec["thresholds"].items()),
              ""]
    return "\n".join(lines)


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>custseg comparison</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.retrain{color:#b00}.monitor{color:#a60}
.keep{color:#070}</style></head><body>
<h1>Comparison of segmentations</h1>
<p class="{{ rec.action }}"><strong>Recommendation: {{ rec.action }}</strong></p>
<ul>{% for r in rec.reasons %}<li>{{ r }}</li>{% else %}<li>no threshold crossed</li>{% endfor %}</ul>
<h2>Segments</h2><table><tr><th>old</th><th>name</th><th>new</th><th>old share</th>
<th>new share</th><th>change</th></tr>
{% for s in shifts %}<tr><td>{{ s.old }}</td><td>{{ s.name }}</td>
<td>{{ 'vanished' if s.new is none else s.new }}</td><td>{{ pct(s.old_share) }}</td>
<td>{{ pct(s.new_share) }}</td><td>{{ pct(s.change) }}</td></tr>{% endfor %}</table>
<h2>Migration</h2>
{% if mig %}<p>{{ "{:,}".format(mig.customers_in_both) }} customers in both runs;
{{ pct(mig.moved_share) }} changed segment.</p><table><tr><th>old \\ new</th>
{% for j in range(mig.matrix[0]|length) %}<th>{{ j }}</th>{% endfor %}</tr>
{% for row in mig.matrix %}<tr><td>{{ loop.index0 }}</td>{% for v in row %}<td>{{ v }}</td>
{% endfor %}</tr>{% endfor %}</table>{% else %}<p>{{ note }}</p>{% endif %}
<h2>Drift</h2><table><tr><th>feature</th><th>PSI</th><th>KS</th><th>verdict</th></tr>
{% for name, d in drift.items() %}<tr><td>{{ name }}</td><td>{{ "%.3f"|format(d.psi) }}</td>
<td>{{ 'n/a' if d.ks is none else "%.3f"|format(d.ks) }}</td><td>{{ d.verdict }}</td></tr>
{% endfor %}</table></body></html>
"""


def render_compare_html(result: dict) -> str:
    env = Environment(autoescape=True)
    tpl = env.from_string(_TEMPLATE)
    return tpl.render(rec=result["recommendation"], shifts=result["size_shifts"],
                      mig=result.get("migration"), note=result.get("migration_note") or "",
                      drift=result["drift"], pct=_pct, escape=html.escape)
