"""A report's HTML page as a person sees it: opened in headless Chromium (Debian's `chromium`, installed by
bin/bootstrap), screenshotted, its images loaded, and its Japanese characters drawn from a font that has them.

Missing glyphs are found by drawing: every CJK character of the page is rendered in the page's own font
stack and again in Noto Sans CJK JP (fonts-noto-cjk, a font that has them), one fixed cell each; a cell
that differs came from another font or is a missing-glyph box.
"""

import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import tempfile

from PIL import Image, ImageChops

CELL = 40  # pixels per character cell
COLUMNS = 24
REFERENCE_FONT = "Noto Sans CJK JP"
# kana, CJK symbols and punctuation, CJK ideographs, full-width forms: what a Japanese report writes
CJK = re.compile(r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")


def browser():
    """The Chromium binary; an AssertionError that says how to get it when missing."""
    found = shutil.which("chromium")
    assert found, "chromium is not installed: run bin/bootstrap (Debian package chromium)"
    return found


def _run(args, env=None):
    base = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    proc = subprocess.run(
        base + args, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL, check=False
    )
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc.stdout


def screenshot(page, png, width=1200, height=4000, env=None):
    """A PNG of PAGE (a file) as Chromium draws it; returns a PIL image."""
    _run([f"--window-size={width},{height}", f"--screenshot={png}", "file://" + os.path.abspath(page)], env=env)
    with Image.open(png) as image:
        return image.convert("RGB")


class _Text(html.parser.HTMLParser):
    """The visible text of a page and its images' sources (no script or style contents)."""

    def __init__(self):
        super().__init__()
        self.text, self.images, self._skip = [], [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "img":
            self.images.append(dict(attrs).get("src"))

    def handle_endtag(self, tag):
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def page_text(page):
    parser = _Text()
    with open(page, encoding="utf-8") as fh:
        parser.feed(fh.read())
    return "".join(parser.text), parser.images


def loaded_images(page):
    """[(src, natural width, natural height)] of every <img> of PAGE after Chromium loaded it."""
    with open(page, encoding="utf-8") as fh:
        source = fh.read()
    probe = (
        "<script>window.addEventListener('load', () => document.body.setAttribute('data-images',"
        " JSON.stringify([...document.images].map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight]))));"
        "</script>"
    )
    copy = os.path.join(os.path.dirname(os.path.abspath(page)), ".probe-" + os.path.basename(page))
    with open(copy, "w", encoding="utf-8") as fh:  # beside the page: its images load by the same relative paths
        fh.write(source.replace("</body>", probe + "</body>"))
    try:
        dom = _run(["--virtual-time-budget=5000", "--dump-dom", "file://" + copy])
    finally:
        os.unlink(copy)
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, "the page's load event never came (no data-images in the DOM)"
    return [tuple(x) for x in json.loads(html.unescape(found.group(1)))]


def font_family(page):
    """The font-family the page's stylesheet gives body (what its text is drawn in)."""
    with open(page, encoding="utf-8") as fh:
        found = re.search(r"body\s*\{[^}]*font-family\s*:\s*([^;}]+)", fh.read())
    return found.group(1).strip() if found else "serif"


def _cells(chars, family, directory, name, env=None):
    """Each character in its own CELL-sized box, drawn in FAMILY: [PIL image] in CHARS' order."""
    rows = (len(chars) + COLUMNS - 1) // COLUMNS
    spans = "".join(f"<span>{c}</span>" for c in chars)
    page = os.path.join(directory, name + ".html")
    with open(page, "w", encoding="utf-8") as fh:
        fh.write(
            '<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><style>'
            f"body{{margin:0;font-family:{family};font-size:{CELL * 3 // 4}px;width:{CELL * COLUMNS}px;"
            "line-height:0}"
            f"span{{display:inline-block;width:{CELL}px;height:{CELL}px;line-height:{CELL}px;"
            "text-align:center;overflow:hidden;vertical-align:top}"
            f"</style></head><body>{spans}</body></html>"
        )
    image = screenshot(page, os.path.join(directory, name + ".png"), CELL * COLUMNS, CELL * max(rows, 1), env)
    return [
        image.crop(((i % COLUMNS) * CELL, (i // COLUMNS) * CELL, (i % COLUMNS + 1) * CELL, (i // COLUMNS + 1) * CELL))
        for i in range(len(chars))
    ]


def glyphs_unlike_reference(chars, family, env=None):
    """The characters of CHARS that FAMILY (with ENV's fonts) draws otherwise than Noto Sans CJK JP with this
    machine's fonts: a missing-glyph box, or a fallback to another font."""
    chars = sorted(set(chars))
    with tempfile.TemporaryDirectory(prefix="anshin-glyphs-") as directory:
        drawn = _cells(chars, family, directory, "page", env)
        reference = _cells(chars, f'"{REFERENCE_FONT}"', directory, "reference")
    return [c for c, a, b in zip(chars, drawn, reference, strict=True) if ImageChops.difference(a, b).getbbox()]


def fonts_without_cjk(directory):
    """An environment whose fontconfig knows only DejaVu (no CJK font): the control that shows the glyph check
    finds missing glyphs."""
    conf = os.path.join(directory, "fonts.conf")
    with open(conf, "w", encoding="utf-8") as fh:
        fh.write(
            '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
            "<dir>/usr/share/fonts/truetype/dejavu</dir>"
            f"<cachedir>{directory}/cache</cachedir></fontconfig>"
        )
    return dict(os.environ, FONTCONFIG_FILE=conf, HOME=directory)


def blank(image):
    """True when IMAGE is one colour (nothing drawn)."""
    return not ImageChops.difference(image, Image.new("RGB", image.size, image.getpixel((0, 0)))).getbbox()
