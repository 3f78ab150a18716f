"""Slide layout for the reveal.js decks, done at export time (the notebooks are not changed).

A chapter is also the textbook, so its cells are too long for slides. :func:`lay_out` rewrites a copy:

- **speaker notes from the prose.** In every markdown cell shown on a slide the presenter's material
  stays (headings, display math, lists, tables, images, code, short lead-ins that end with ":") and so
  does the first sentence of the prose, or its first paragraph when that is short; the other prose
  paragraphs move to a following cell of slide type ``notes``, which nbconvert writes as
  ``<aside class="notes">`` and reveal's notes plugin shows in the speaker view (press ``s``);
- **one idea per slide.** A heading inside a cell, a bold lead-in ("**Numeric check.** …") once the
  slide is half full, or content past the slide's height start a sub-slide (slide type ``subslide``);
- **long outputs as sub-slides.** A code cell with a figure, more than :data:`LONG_OUTPUT_LINES` lines
  of text or a wide table starts its own sub-slide; long source (> :data:`LONG_SOURCE_LINES` lines)
  does too and is cut at blank lines into sub-slides that each fit; outputs that do not fit under
  their code go to sub-slides of their own (the code is not repeated there); text outputs longer than
  :data:`TEXT_KEEP_LINES` lines, long tables and long highlighted listings are cut with a
  "… (N more lines in the notebook)" line.

Heights are estimates in CSS pixels of the 1280×720 reveal slide (:data:`SLIDE_WIDTH` ×
:data:`SLIDE_HEIGHT`), calibrated against headless Chromium (``tests/test_slides_fit.py`` measures the
decks); they decide where sub-slides start, not how anything is drawn.
"""

from __future__ import annotations

import base64
import copy
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
BUDGET = 620
"""Estimated content height (px) one (sub)slide may hold before the next cell starts a sub-slide."""
LONG_OUTPUT_LINES = 15
LONG_SOURCE_LINES = 25
TEXT_KEEP_LINES = 14
"""A text output longer than this many (wrapped) lines keeps this many on the slide."""
TABLE_KEEP_ROWS = 10
SHORT_PARAGRAPH_WORDS = 30
LEAD_IN_WORDS = 22
IMAGE_MAX_HEIGHT = 480
"""CSS max-height of an output image on a slide (the reveal template sets the same)."""

# layout constants, in px of the 1280×720 slide (measured in Chromium)
MD_CHARS_PER_LINE = 96
MD_LINE = 26.5
PARAGRAPH_GAP = 20
CODE_LINE = 22.8
CODE_PAD = 22
CODE_CHARS_PER_LINE = 92
CELL_GAP = 10
HEADINGS = {1: 90, 2: 70, 3: 56}

NOTES = "notes"


# --------------------------------------------------------------------------------------------
# Markdown: blocks, sentences, pages
# --------------------------------------------------------------------------------------------
@dataclass
class Block:
    kind: str  # heading, paragraph, quote, math, list, table, image, code, html, rule
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s")
_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")
_TABLE = re.compile(r"^\s{0,3}\|")
_IMAGE = re.compile(r"^\s*(?:\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)|!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>)\s*$")
_HTML = re.compile(r"^\s{0,3}<(?:div|details|table|figure|p|center|iframe|video|audio|svg)\b", re.I)
_MATH_OPEN = re.compile(r"^\s*(\$\$|\\\[|\\begin\{([a-zA-Z*]+)\})")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
KEPT = {"heading", "math", "list", "table", "image", "code", "html", "rule"}


def _math_end(lines: list[str], i: int) -> int:
    opener = _MATH_OPEN.match(lines[i])
    token, env = opener.group(1), opener.group(2)
    close = "$$" if token == "$$" else "\\]" if token == "\\[" else f"\\end{{{env}}}"
    rest = lines[i][opener.end():]
    if close in rest:
        return i
    for j in range(i + 1, len(lines)):
        if close in lines[j]:
            return j
    return len(lines) - 1


def _starts_block(line: str) -> bool:
    return bool(_FENCE.match(line) or _HEADING.match(line) or _MATH_OPEN.match(line) or _TABLE.match(line)
                or _IMAGE.match(line) or _RULE.match(line))


def split_blocks(source: str) -> list[Block]:
    """Top-level markdown blocks of ``source``, each with its own lines (joined they give the source
    back, up to blank lines)."""
    lines = source.splitlines()
    blocks: list[Block] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if fence := _FENCE.match(line):
            j = i + 1
            while j < n and not lines[j].lstrip().startswith(fence.group(1)):
                j += 1
            blocks.append(Block("code", lines[i:j + 1]))
            i = j + 1
        elif _MATH_OPEN.match(line):
            j = _math_end(lines, i)
            blocks.append(Block("math", lines[i:j + 1]))
            i = j + 1
        elif _HEADING.match(line):
            blocks.append(Block("heading", [line]))
            i += 1
        elif _RULE.match(line):
            blocks.append(Block("rule", [line]))
            i += 1
        elif _IMAGE.match(line):
            blocks.append(Block("image", [line]))
            i += 1
        elif _ITEM.match(line):
            j = i + 1
            while j < n:
                if not lines[j].strip():
                    k = j
                    while k < n and not lines[k].strip():
                        k += 1
                    if k < n and (_ITEM.match(lines[k]) or lines[k].startswith(("  ", "\t"))):
                        j = k
                        continue
                    break
                if _starts_block(lines[j]) and not lines[j].startswith(("  ", "\t")):
                    break
                j += 1
            blocks.append(Block("list", lines[i:j]))
            i = j
        else:
            kind = "table" if _TABLE.match(line) else "html" if _HTML.match(line) else \
                "quote" if line.lstrip().startswith(">") else "paragraph"
            j = i + 1
            while j < n and lines[j].strip():
                if kind == "paragraph" and (_starts_block(lines[j]) or _ITEM.match(lines[j])):
                    break
                j += 1
            blocks.append(Block(kind, lines[i:j]))
            i = j
    return blocks


_PROTECT = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$|\\\(.+?\\\)|`[^`\n]*`|\[[^\]\n]*\]\([^)\n]*\)", re.S)
_BOUNDARY = re.compile(r"[.!?](?:\*\*|\*|_|\)|\"|”)?(?=\s+\S)")
_NEXT_START = re.compile(r"\s+(?:[A-Z0-9*_$(\[`\"“\\]|[\u4e00-\u9fff])")
_ABBREVIATIONS = ("e.g", "i.e", "cf", "vs", "etc", "fig", "eq", "eqs", "approx", "al", "resp", "no", "p", "ch",
                  "sec", "mr", "dr", "ref", "refs")


def _masked(text: str) -> str:
    """``text`` with math, code and links blanked out (same length), so their dots do not end sentences."""
    return _PROTECT.sub(lambda m: "X" * len(m.group(0)), text)


def sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence end in ``text`` (not after abbreviations, inside math or code)."""
    masked = _masked(text)
    ends = []
    for m in _BOUNDARY.finditer(masked):
        word = re.search(r"([A-Za-z.]+)[.!?]$", masked[:m.start() + 1])
        if word and word.group(1).lower().rstrip(".") in _ABBREVIATIONS:
            continue
        if not _NEXT_START.match(masked, m.end()):
            continue
        ends.append(m.end())
    return ends


def _words(text: str) -> int:
    return len(_masked(text).split())


def _is_label(text: str) -> bool:
    """A bold run-in label such as ``**Intuition.**`` or ``**Numeric check — Jensen and the gap.**``."""
    return bool(re.fullmatch(r"\s*\*\*[^*]{1,80}\*\*\s*", text)) and _words(text) <= 8


def lead(paragraph: str) -> tuple[str, str]:
    """Split a prose paragraph into what stays on the slide (the whole paragraph when it is short, else its
    first sentence, after a bold label the one after it) and the rest (for the notes)."""
    text = paragraph.strip()
    if _words(text) <= SHORT_PARAGRAPH_WORDS:
        return text, ""
    ends = sentence_ends(text)
    if not ends:
        return text, ""
    cut = ends[0]
    if _is_label(text[:cut]) and len(ends) > 1:
        cut = ends[1]
    head, rest = text[:cut].strip(), text[cut:].strip()
    if _words(rest) < 8:  # not worth a note
        return text, ""
    return head, rest


def _starts_with_label(text: str) -> bool:
    return bool(re.match(r"\s*\*\*[^*]{1,80}[.?!:]\*\*", text))


@dataclass
class Page:
    """What one slide (or sub-slide) gets from a markdown cell."""

    visible: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    height: float = 0.0
    prose_used: bool = False

    def show(self, text: str, height: float) -> None:
        self.visible.append(text)
        self.height += height


def plan_markdown(source: str, budget: float = BUDGET, start: float = 0.0) -> list[Page]:
    """Pages of a markdown cell: the first is what stays where the cell is (``start`` px of that slide are
    already used), each further one becomes a sub-slide."""
    blocks = split_blocks(source)
    pages = [Page(height=start)]
    for index, block in enumerate(blocks):
        page = pages[-1]
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        has_content = len(page.visible) > 0
        if block.kind in KEPT:
            height = block_height(block)
            new_idea = block.kind == "heading" and index > 0 and has_content
            if new_idea or (has_content and page.height + height > budget):
                page = Page()
                pages.append(page)
            page.show(block.text, height)
            continue
        text = block.text.strip()
        label = _starts_with_label(text)
        if label and has_content and page.height > 0.45 * budget:
            page = Page()
            pages.append(page)
        words = _words(text)
        lead_in = text.rstrip("*").endswith(":") and following is not None and following.kind in KEPT - {"heading"}
        if not page.prose_used or label:
            head, rest = lead(text)
            if lead_in and words <= SHORT_PARAGRAPH_WORDS + 10:
                head, rest = text, ""
        elif lead_in and words <= LEAD_IN_WORDS:
            head, rest = text, ""
        elif _is_label(text):
            head, rest = text, ""
        else:
            head, rest = "", text
        if head:
            height = paragraph_height(head)
            if page.visible and page.height + height > budget:
                page = Page()
                pages.append(page)
            page.show(head, height)
            page.prose_used = True
        if rest:
            page.notes.append(rest)
    return [p for p in pages if p.visible or p.notes]


# --------------------------------------------------------------------------------------------
# Height estimates (px on the 1280×720 slide)
# --------------------------------------------------------------------------------------------
_MD_SYNTAX = re.compile(r"\*\*|__|(?<!\w)[*_](?!\s)|`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_INLINE_MATH = re.compile(r"\$([^$]+)\$")


def _shown_length(text: str) -> int:
    """Roughly how many characters ``text`` takes once rendered (markup gone, TeX shorter than its source)."""
    text = _LINK.sub(r"\1", text)
    text = _INLINE_MATH.sub(lambda m: "x" * max(1, int(len(re.sub(r"\\[a-zA-Z]+|[{}_^]", "x", m.group(1))) * 0.6)),
                            text)
    return len(_MD_SYNTAX.sub("", text))


def _wrapped(length: int, per_line: int) -> int:
    return max(1, math.ceil(length / per_line))


def paragraph_height(text: str) -> float:
    lines = _wrapped(_shown_length(" ".join(text.split())), MD_CHARS_PER_LINE)
    tall = 3 * len(re.findall(r"\\(?:frac|sum|int|prod|hat|tilde|big|left|sqrt)", text))
    return lines * MD_LINE + min(tall, 6 * lines) + PARAGRAPH_GAP


def _math_height(tex: str) -> float:
    rows = tex.count("\\\\") + 1
    tall = any(k in tex for k in ("\\frac", "\\sum", "\\int", "\\prod", "\\underbrace", "\\boxed", "\\begin{pmatrix",
                                  "\\begin{bmatrix", "\\binom", "\\dfrac", "\\cases", "\\begin{cases"))
    return 30 + rows * (62 if tall else 40)


def block_height(block: Block) -> float:
    text = block.text
    if block.kind == "heading":
        level = len(_HEADING.match(block.lines[0]).group(1))
        size = HEADINGS.get(level, 44)
        return size + (size - 20) * (_wrapped(len(text), 50 if level <= 2 else 70) - 1)
    if block.kind == "math":
        return _math_height(text)
    if block.kind == "list":
        items = re.split(r"\n(?=\s{0,3}(?:[-*+]|\d{1,3}[.)])\s)", text)
        height = PARAGRAPH_GAP
        for item in items:
            height += _wrapped(_shown_length(" ".join(item.split())), MD_CHARS_PER_LINE - 6) * MD_LINE + 6
            height += sum(_math_height(m) - 36 for m in re.findall(r"\$\$(.+?)\$\$", item, re.S))
        return height
    if block.kind == "table":
        rows = [line for line in block.lines if not re.match(r"^\s*\|?\s*:?-{2,}", line)]
        return 20 + 42 * len(rows)
    if block.kind == "image":
        return 40 if "badge" in text else 320
    if block.kind == "code":
        return CODE_PAD + CODE_LINE * max(1, len(block.lines) - 2)
    if block.kind == "html":
        return 120
    if block.kind == "rule":
        return 30
    return paragraph_height(text)


def markdown_height(source: str) -> float:
    return sum(block_height(b) for b in split_blocks(source)) + CELL_GAP


_PRIORITY = ("application/vnd.jupyter.widget-view+json", "application/javascript", "text/html", "text/markdown",
             "image/svg+xml", "text/latex", "image/png", "image/jpeg", "text/plain")


def _shown_mime(output: dict) -> str | None:
    data = output.get("data") or {}
    return next((m for m in _PRIORITY if m in data), None)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _clean_stream(text: str) -> str:
    """What a terminal shows of text with carriage returns (progress bars): the last part of each line."""
    return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n"))


def _visual_lines(text: str, per_line: int = CODE_CHARS_PER_LINE) -> int:
    return sum(_wrapped(len(line.expandtabs()), per_line) for line in text.rstrip("\n").split("\n"))


def image_size(output: dict) -> tuple[float, float] | None:
    """Width and height (CSS px) of a PNG, JPEG or SVG output, from its metadata or the image header."""
    data, meta = output.get("data") or {}, output.get("metadata") or {}
    for mime in ("image/png", "image/jpeg", "image/svg+xml"):
        if mime not in data:
            continue
        info = meta.get(mime) if isinstance(meta.get(mime), dict) else {}
        if info.get("width") and info.get("height"):
            return float(info["width"]), float(info["height"])
        try:
            if mime == "image/svg+xml":
                svg = _text(data[mime])
                w = re.search(r'<svg[^>]*?\swidth="([\d.]+)(?:pt|px)?"', svg)
                h = re.search(r'<svg[^>]*?\sheight="([\d.]+)(?:pt|px)?"', svg)
                return (float(w.group(1)) * 4 / 3, float(h.group(1)) * 4 / 3) if w and h else None
            raw = base64.b64decode(_text(data[mime]).strip()[:65536] + "===")
            if mime == "image/png" and raw[:8] == b"\x89PNG\r\n\x1a\n":
                w, h = struct.unpack(">II", raw[16:24])
                return float(w), float(h)
            if mime == "image/jpeg":
                i = 2
                while i + 9 < len(raw):
                    marker, length = raw[i + 1], struct.unpack(">H", raw[i + 2:i + 4])[0]
                    if marker in (0xC0, 0xC1, 0xC2):
                        h, w = struct.unpack(">HH", raw[i + 5:i + 9])
                        return float(w), float(h)
                    i += 2 + length
        except (ValueError, struct.error, IndexError):
            return None
    return None


OUTPUT_WIDTH = 1060
"""Width (px) of an output area on the slide."""
TABLE_CHAR = 8.6
"""Average character width (px) in an output table (the reveal template sets 16px text there)."""
TABLE_MAX_HEIGHT = 440
"""A long table keeps the rows that fit in this height (and at most :data:`TABLE_KEEP_ROWS`)."""


def _row_heights(html: str) -> list[tuple[int, float]]:
    """``(offset, estimated height)`` of each ``<tr>`` of an HTML table (long cells wrap)."""
    rows = []
    per_line = OUTPUT_WIDTH / TABLE_CHAR
    for m in re.finditer(r"<tr\b.*?</tr>", html, re.S | re.I):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", m.group(0), re.S | re.I)]
        lengths = [len(" ".join(c.split())) + 2 for c in cells] or [1]
        share = per_line / max(len(lengths), 1)
        lines = max(_wrapped(sum(lengths), per_line), max(_wrapped(n, share * 2.2) for n in lengths))
        rows.append((m.start(), 12 + 21 * lines))
    return rows


def output_height(output: dict) -> float:
    kind = output.get("output_type")
    if kind == "stream":
        return _visual_lines(_clean_stream(_text(output.get("text")))) * CODE_LINE + 10
    if kind == "error":
        return _visual_lines("\n".join(output.get("traceback") or [])) * CODE_LINE + 10
    mime = _shown_mime(output)
    data = output.get("data") or {}
    if mime is None or mime == "application/javascript":
        return 0
    if mime in ("image/png", "image/jpeg", "image/svg+xml"):
        size = image_size(output) or (640, 400)
        w, h = size
        h = h * min(1.0, OUTPUT_WIDTH / max(w, 1))
        return min(h, IMAGE_MAX_HEIGHT) + 14
    value = _text(data[mime])
    if mime == "text/html":
        if "<audio" in value or "<video" in value:
            return 70 * (value.count("<audio") + value.count("<video"))
        if "<table" in value:
            return 24 + sum(h for _, h in _row_heights(value))
        if "<pre" in value:
            pre = re.findall(r"<pre[^>]*>(.*?)</pre>", value, re.S)
            return CODE_PAD + CODE_LINE * sum(p.count("\n") + 1 for p in pre)
        plain = re.sub(r"<style.*?</style>|<script.*?</script>", "", value, flags=re.S)
        plain = re.sub(r"<[^>]+>", "", plain)
        return 16 + _wrapped(len(" ".join(plain.split())), MD_CHARS_PER_LINE) * MD_LINE
    if mime == "text/markdown":
        return markdown_height(value)
    if mime == "text/latex":
        return _math_height(value)
    return _visual_lines(value) * CODE_LINE + 10


def code_height(cell: dict, *, with_source: bool = True, with_outputs: bool = True) -> float:
    height = 0.0
    if with_source and not cell.get("metadata", {}).get("transient", {}).get("remove_source"):
        lines = _text(cell.get("source")).rstrip("\n").count("\n") + 1
        height += CODE_PAD + CODE_LINE * lines
    if with_outputs:
        height += sum(output_height(o) for o in cell.get("outputs", []))
    return height + CELL_GAP


def is_long_output(cell: dict) -> bool:
    """A figure, more than :data:`LONG_OUTPUT_LINES` lines of text, or a wide or long table."""
    lines = 0
    for output in cell.get("outputs", []):
        mime = _shown_mime(output)
        if mime in ("image/png", "image/jpeg", "image/svg+xml"):
            return True
        if output.get("output_type") == "stream":
            lines += _visual_lines(_clean_stream(_text(output.get("text"))))
        elif output.get("output_type") == "error":
            lines += _visual_lines("\n".join(output.get("traceback") or []))
        elif mime == "text/plain":
            lines += _visual_lines(_text(output["data"][mime]))
        elif mime in ("text/html", "text/markdown"):
            value = _text(output["data"][mime])
            rows = value.count("<tr") if mime == "text/html" else value.count("\n|")
            header = re.search(r"<tr.*?</tr>", value, re.S) if mime == "text/html" else None
            columns = (header.group(0).count("<th") + header.group(0).count("<td")) if header else 0
            pre = sum(p.count("\n") + 1 for p in re.findall(r"<pre[^>]*>(.*?)</pre>", value, re.S))
            if rows > TABLE_KEEP_ROWS or columns > 8 or pre > LONG_OUTPUT_LINES or output_height(output) > 320:
                return True
    return lines > LONG_OUTPUT_LINES


# --------------------------------------------------------------------------------------------
# Truncating outputs
# --------------------------------------------------------------------------------------------
def _more(n: int, what: str = "lines") -> str:
    return f"… ({n} more {what if n != 1 else what[:-1]} in the notebook)"


def truncate_text(text: str, keep: int = TEXT_KEEP_LINES, per_line: int = CODE_CHARS_PER_LINE) -> str:
    """At most ``keep`` wrapped lines of ``text`` and a "… (N more lines in the notebook)" line."""
    if _visual_lines(text, per_line) <= keep + 1:
        return text
    lines = text.rstrip("\n").split("\n")
    shown, used = [], 0
    for index, line in enumerate(lines):
        need = _wrapped(len(line.expandtabs()), per_line)
        if used + need > keep:
            room = (keep - used) * per_line
            if room > 0:
                shown.append(line[:room] + " …")
                index += 1
            remaining = len(lines) - index
            return "\n".join(shown) + "\n" + _more(max(remaining, 1)) + "\n"
        shown.append(line)
        used += need
    return text


def _truncate_html(value: str) -> str:
    lower = value.lower()
    if "<table" in lower:
        rows = _row_heights(value)
        body = lower.find("<tbody")
        body_rows = [r for r in rows if r[0] > body] if body >= 0 else rows[1:]
        used = sum(row[1] for row in rows if row not in body_rows)
        keep = 0
        for _, h in body_rows[:TABLE_KEEP_ROWS]:
            if keep and used + h > TABLE_MAX_HEIGHT:
                break
            used += h
            keep += 1
        if len(body_rows) > keep + 1:
            cut = body_rows[keep][0]
            end = lower.find("</tbody>", cut)
            end = end if end >= 0 else lower.find("</table>", cut)
            if end >= 0:
                more = len(body_rows) - keep
                return value[:cut] + value[end:] + f'<p class="aigc-more">{_more(more, "rows")}</p>'
    pres = list(re.finditer(r"(<pre[^>]*>)(.*?)(</pre>)", value, re.S))
    if len(pres) == 1:
        inner = pres[0].group(2)
        lines = inner.split("\n")
        keep = TEXT_KEEP_LINES + 4
        if len(lines) > keep + 2:
            more = len(lines) - keep
            start, end = pres[0].span(2)
            return value[:start] + "\n".join(lines[:keep]) + "\n" + value[end:] + \
                f'<p class="aigc-more">{_more(more)}</p>'
    return value


def _truncate_markdown_table(value: str) -> str:
    lines = value.rstrip("\n").split("\n")
    rows = [i for i, line in enumerate(lines) if line.lstrip().startswith("|")]
    if len(rows) > TABLE_KEEP_ROWS + 4:
        cut = rows[TABLE_KEEP_ROWS + 2]
        more = len(rows) - TABLE_KEEP_ROWS - 2
        return "\n".join(lines[:cut]) + f"\n\n*{_more(more, 'rows')}*\n"
    return value


def truncate_outputs(cell: dict) -> dict:
    """A copy of a code cell whose long text outputs, tables and listings are cut for the slide."""
    cell = copy.deepcopy(cell)
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            text = _clean_stream(_text(output.get("text")))
            output["text"] = truncate_text(text)
        elif kind == "error":
            output["traceback"] = truncate_text("\n".join(output.get("traceback") or [])).split("\n")
        elif kind in ("display_data", "execute_result"):
            mime = _shown_mime(output)
            data = output["data"]
            if mime == "text/plain":
                data[mime] = truncate_text(_text(data[mime]))
            elif mime == "text/html":
                data[mime] = _truncate_html(_text(data[mime]))
            elif mime == "text/markdown":
                data[mime] = _truncate_markdown_table(_text(data[mime]))
    return cell


# --------------------------------------------------------------------------------------------
# Code cells: long source in parts, outputs that do not fit on sub-slides of their own
# --------------------------------------------------------------------------------------------
def split_source(source: str, limit: int) -> list[str]:
    """``source`` cut into parts of at most ``limit`` lines, preferably at blank lines before unindented code."""
    lines = source.rstrip("\n").split("\n")
    parts = []
    while len(lines) > limit:
        window = range(limit, max(limit // 2, 1), -1)
        cut = next((i for i in window if not lines[i - 1].strip() and lines[i][:1] not in (" ", "\t", "")), None)
        cut = cut or next((i for i in window if not lines[i - 1].strip()), None)
        cut = cut or next((i for i in window if lines[i][:1] not in (" ", "\t", "")), None) or limit
        parts.append("\n".join(lines[:cut]).rstrip("\n"))
        lines = lines[cut:]
        while lines and not lines[0].strip():
            lines = lines[1:]
    if lines:
        parts.append("\n".join(lines))
    return parts


@dataclass
class Piece:
    """A cell of the laid-out notebook: ``own`` when it starts a sub-slide whatever fits."""

    cell: dict
    height: float
    own: bool = False


def _with_id(cell: dict, suffix: str) -> dict:
    if cell.get("id"):
        cell["id"] = f"{cell['id']}-{suffix}"[:64]
    return cell


def plan_code(cell: dict, budget: float = BUDGET) -> list[Piece]:
    cell = truncate_outputs(cell)
    source = _text(cell.get("source"))
    n_lines = source.rstrip("\n").count("\n") + 1
    long_output = is_long_output(cell)
    whole = code_height(cell)
    if n_lines <= LONG_SOURCE_LINES and whole <= budget:
        return [Piece(cell, whole, own=long_output)]
    pieces: list[Piece] = []
    limit = int((budget - CODE_PAD - CELL_GAP) // CODE_LINE)
    parts = split_source(source, limit) if n_lines > limit else [source]
    for k, part in enumerate(parts):
        piece = copy.deepcopy(cell)
        piece["source"] = part
        piece["outputs"] = []
        if len(parts) > 1:
            _with_id(piece, f"src{k + 1}")
        pieces.append(Piece(piece, code_height(piece), own=n_lines > LONG_SOURCE_LINES))
    outputs = cell.get("outputs", [])
    if outputs and pieces[-1].height + code_height(cell, with_source=False) <= budget:
        pieces[-1].cell["outputs"] = outputs
        pieces[-1].height += code_height(cell, with_source=False) - CELL_GAP
        return pieces
    group: list[dict] = []
    height = 0.0
    groups = []
    for output in outputs:
        h = output_height(output)
        if group and height + h > budget:
            groups.append(group)
            group, height = [], 0.0
        group.append(output)
        height += h
    if group:
        groups.append(group)
    for k, group in enumerate(groups):
        piece = copy.deepcopy(cell)
        piece["outputs"] = group
        piece.setdefault("metadata", {}).setdefault("transient", {})["remove_source"] = True
        _with_id(piece, f"out{k + 1}")
        pieces.append(Piece(piece, code_height(piece), own=True))
    return pieces


# --------------------------------------------------------------------------------------------
# The notebook
# --------------------------------------------------------------------------------------------
def slide_type(cell: dict) -> str:
    return (cell.get("metadata", {}).get("slideshow") or {}).get("slide_type") or "-"


def _set_type(cell: dict, kind: str) -> None:
    cell.setdefault("metadata", {})["slideshow"] = {**(cell["metadata"].get("slideshow") or {}), "slide_type": kind}


def _markdown_cell(source: str, template: dict, kind: str, suffix: str, *, tags: bool = True) -> dict:
    cell = {"cell_type": "markdown", "metadata": copy.deepcopy(template.get("metadata", {})), "source": source}
    if not tags:
        cell["metadata"].pop("tags", None)
    if template.get("id"):
        cell["id"] = template["id"]
    _set_type(cell, kind)
    return _with_id(cell, suffix) if suffix else cell


def lay_out(nb: Any, budget: float = BUDGET) -> Any:
    """A copy of ``nb`` laid out for slides (see the module's docstring); the notebook itself is untouched."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells: list[dict] = []
    used = 0.0  # estimated height of the current (sub)slide

    def place(cell: dict, height: float, kind: str, own: bool = False) -> None:
        nonlocal used
        if kind in ("slide", "subslide") or not cells:
            used = height
        elif own or (used > 0 and used + height > budget):
            kind = "subslide"
            used = height
        else:
            used += height
        _set_type(cell, kind)
        cells.append(cell)

    for cell in nb.cells:
        kind = slide_type(cell)
        if kind in ("skip", NOTES):
            cells.append(cell)
            continue
        if cell.get("cell_type") == "markdown":
            fresh = kind in ("slide", "subslide") or not cells
            start = 0.0 if fresh else used
            pages = plan_markdown(_text(cell.get("source")), budget, start)
            promote = False
            if not fresh and used > 0 and pages and pages[0].height > budget:
                pages, start, promote = plan_markdown(_text(cell.get("source")), budget, 0.0), 0.0, True
            if len(pages) == 1 and not pages[0].notes:
                place(cell, pages[0].height - start + CELL_GAP, kind, own=promote)
                continue
            for k, page in enumerate(pages):
                if page.visible:
                    shown = _markdown_cell("\n\n".join(page.visible), cell, kind if k == 0 else "subslide",
                                           f"p{k + 1}" if k else "")
                    height = page.height - (start if k == 0 else 0.0) + CELL_GAP
                    place(shown, height, kind if k == 0 else "subslide", own=promote or k > 0)
                if page.notes:
                    cells.append(_markdown_cell("\n\n".join(page.notes), cell, NOTES, f"notes{k + 1}", tags=False))
            continue
        if cell.get("cell_type") == "code":
            for k, piece in enumerate(plan_code(cell, budget)):
                place(piece.cell, piece.height, kind if k == 0 else "-", own=piece.own)
            continue
        place(cell, 60.0, kind)
    nb.cells = [nbformat.from_dict(c) for c in cells]
    return nb
