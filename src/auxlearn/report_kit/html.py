"""Render a ``Report`` as one self-contained HTML page: inline CSS, images as base64 data URIs, no script."""

from __future__ import annotations

import base64
from html import escape

from auxlearn.report_kit.blocks import Code, Figure, Paragraph, Report, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1rem 1.5rem 3rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .3rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
p.verdict { font-size: 1.05rem; background: #eef5fb; border-left: 4px solid #0072B2; padding: .6rem .9rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; color: #555; font-size: .9rem; padding-bottom: .2rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
tr.gain td { font-weight: 600; background: #fbf6ea; }
tr.stage-final td { background: #eef5fb; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .9rem; }
pre { background: #f7f7f7; padding: .6rem; overflow-x: auto; font-size: .85rem; }
nav a { margin-right: .8rem; }
.meta { color: #666; font-size: .9rem; }
"""


def _table(table: Table) -> str:
    attrs = f' id="{escape(table.id)}"' if table.id else ""
    out = [f"<table{attrs}>"]
    if table.caption:
        out.append(f"<caption>{escape(table.caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in table.headers) + "</tr></thead><tbody>")
    for i, row in enumerate(table.rows):
        css = table.row_classes[i] if i < len(table.row_classes) else ""
        cls = f' class="{escape(css)}"' if css else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = f"<figcaption>{escape(figure.caption)}</figcaption>" if figure.caption else ""
    return (f'<figure id="fig-{escape(figure.name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(figure.alt)}">{caption}</figure>')


def render_html(report: Report, run_dir: str = "") -> str:
    body = []
    for section in report.sections:
        body.append(f'<section id="{escape(section.id)}"><h2>{escape(section.title)}</h2>')
        for block in section.blocks:
            if isinstance(block, Paragraph):
                cls = f' class="{escape(block.css)}"' if block.css else ""
                lead = f"<strong>{escape(block.lead)}</strong> " if block.lead else ""
                body.append(f"<p{cls}>{lead}{escape(block.text)}</p>")
            elif isinstance(block, Table):
                body.append(_table(block))
            elif isinstance(block, Figure):
                body.append(_figure(block))
            elif isinstance(block, Code):
                body.append(f"<pre><code>{escape(block.text)}</code></pre>")
        body.append("</section>")
    nav = " ".join(f'<a href="#{escape(s.id)}">{escape(s.title.split(":")[0])}</a>' for s in report.sections)
    meta = f'<p class="meta">run folder: <code>{escape(run_dir)}</code></p>' if run_dir else ""
    # A data: favicon keeps the browser from requesting /favicon.ico (the page makes no request at all).
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<link rel=\"icon\" href=\"data:,\">"
            f"<title>{escape(report.title)}</title><style>{CSS}</style></head><body>"
            f"<h1>{escape(report.title)}</h1>{meta}<nav>{nav}</nav>" + "\n".join(body) + "</body></html>\n")
