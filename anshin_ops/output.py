"""How the CLI writes files: whole or not at all.

write_text(path, text) / write_yaml(path, data)   PATH.partial in the same directory, synced, then renamed
save_workbook(book, path)                         an openpyxl workbook, the same way
                                                  (both: anshin_common.replacing, the one such helper)
drawing(out_dir)                                  a scratch directory whose files move into out_dir
                                                  only when the block finished without an error
markdown_table(header, rows)                      a Markdown table with | and newlines escaped
render_html(template, **values)                   an HTML page from anshin_ops/templates (Jinja2, escaped)
"""

import contextlib
import os
import shutil
import tempfile

import anshin_common  # module_utils/ (anshin_ops/__init__.py)
import jinja2
import yaml

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def write_text(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    anshin_common.write_file(path, text)


def write_yaml(path, data):
    write_text(path, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@contextlib.contextmanager
def drawing(out_dir):
    """Yields (scratch directory, list of final paths); the list is filled once every file is in place."""
    os.makedirs(out_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(dir=out_dir, prefix=".draw-")
    written = []
    try:
        yield scratch, written
        for name in sorted(os.listdir(scratch)):
            os.replace(os.path.join(scratch, name), os.path.join(out_dir, name))
            written.append(os.path.join(out_dir, name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |")
    return "\n".join(lines)


def write_xlsx(path, title, header, rows, note=None):
    """One sheet: a title, a note, a bold header row and the rows (column widths to fit)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([note or ""])
    sheet.append(header)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column in sheet.iter_cols(min_row=3):
        width = max(len(str(c.value or "")) for c in column) * 2 + 2
        sheet.column_dimensions[column[0].column_letter].width = min(max(width, 8), 50)
        for cell in column:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A4"
    save_workbook(book, path)


def save_workbook(book, path):
    """An openpyxl workbook written whole (anshin_common.replacing)."""
    with anshin_common.replacing(path) as partial:
        book.save(partial)


def render_html(template, **values):
    """TEMPLATE of anshin_ops/templates rendered with VALUES, every value HTML-escaped (autoescape)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(template).render(**values)
