"""Render a ``Report`` as Markdown; its figures are PNG files in ``report_figures/`` beside report.md."""

from __future__ import annotations

from auxlearn.report_kit.blocks import Code, Figure, Paragraph, Report, Table

FIGURES_DIR = "report_figures"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_markdown(table: Table) -> str:
    lines = []
    if table.caption:
        lines.append(f"*{table.caption}*\n")
    lines.append("| " + " | ".join(_cell(h) for h in table.headers) + " |")
    lines.append("|" + "|".join("---" for _ in table.headers) + "|")
    for i, row in enumerate(table.rows):
        bold = i < len(table.row_classes) and table.row_classes[i] == "gain"
        lines.append("| " + " | ".join(f"**{_cell(c)}**" if bold and c else _cell(c) for c in row) + " |")
    return "\n".join(lines)


def render_markdown(report: Report) -> tuple[str, dict[str, bytes]]:
    """The Markdown text and the figures it links, ``{relative path: PNG bytes}``."""
    out, figures = [f"# {report.title}", ""], {}
    for section in report.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                text = f"**{block.lead}** {block.text}" if block.lead else block.text
                out.append(f"> {text}" if block.css == "verdict" else text)
            elif isinstance(block, Table):
                out.append(table_markdown(block))
            elif isinstance(block, Figure):
                path = f"{FIGURES_DIR}/{block.name}.png"
                figures[path] = block.png
                out.append(f"![{block.alt}]({path})" + (f"\n\n*{block.caption}*" if block.caption else ""))
            elif isinstance(block, Code):
                out.append(f"```yaml\n{block.text.rstrip()}\n```")
            out.append("")
    return "\n".join(out), figures
