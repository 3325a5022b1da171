"""Test documents made on the fly (no binary fixtures committed): PDFs with fpdf2, images with Pillow.

Images of printed text are drawn with DejaVu Serif at 12 pt and 300 dpi, as a flatbed scanner would give them;
where that font is missing they are rendered from a text PDF with pdfium instead. A "scanned" PDF is such an
image wrapped in a PDF with no text layer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

DPI = 300
A4_PIXELS = (2480, 3508)  # 210 x 297 mm at 300 dpi
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")

PROSE = (
    "The committee met on Tuesday morning to review the budget for the coming year. After a long discussion "
    "about travel costs, the members agreed to reduce the conference allowance by twelve percent and to spend "
    "the savings on training for new staff. The chair thanked the finance team for their careful work on the "
    "figures and asked them to prepare a short summary for the next meeting. Several members raised questions "
    "about the timing of the office move, which is now planned for the first week of September. The meeting "
    "closed at half past eleven, and the minutes will be circulated by Friday."
)


def text_pdf(pages: list[str]) -> bytes:
    """A PDF with a real text layer, one string per page."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 7, text)
    return bytes(pdf.output())


def columns_pdf(title: str, columns: Sequence[str], gutter_mm: float = 8.0) -> bytes:
    """A page with ``title`` across it, then ``columns`` of prose side by side, written as typesetters of such
    pages write them (the Federal Register's): line by line across the page, the first line of every column,
    then the second."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=10)
    pdf.add_page()
    pdf.multi_cell(0, 6, title)
    top = pdf.get_y() + 4
    width = (pdf.w - pdf.l_margin - pdf.r_margin - gutter_mm * (len(columns) - 1)) / len(columns)
    wrapped = [pdf.multi_cell(width, 5, text, dry_run=True, output="LINES") for text in columns]
    for row in range(max(len(lines) for lines in wrapped)):
        for index, lines in enumerate(wrapped):
            if row < len(lines):
                pdf.set_xy(pdf.l_margin + index * (width + gutter_mm), top + row * 5)
                pdf.cell(width, 5, lines[row])
    return bytes(pdf.output())


def table_pdf(before: str, rows: Sequence[Sequence[str]], after: str, pages_before: int = 1) -> bytes:
    """A PDF whose page ``pages_before + 1`` holds ``before``, then a ruled table of ``rows`` (first row the
    header), then ``after``; the pages before and the one after hold plain prose."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    for number in range(1, pages_before + 1):
        pdf.add_page()
        pdf.multi_cell(0, 7, f"Page {number}. {PROSE}")
    pdf.add_page()
    pdf.multi_cell(0, 7, before)
    add_table(pdf, rows)
    pdf.multi_cell(0, 7, after)
    pdf.add_page()
    pdf.multi_cell(0, 7, f"Closing page. {PROSE}")
    return bytes(pdf.output())


def add_table(pdf: FPDF, rows: Sequence[Sequence[str]]) -> None:
    """A ruled table (fpdf2 draws the grid pdfplumber finds), with a little space above and below."""
    pdf.ln(5)
    with pdf.table() as table:
        for row in rows:
            cells = table.row()
            for value in row:
                cells.cell(value)
    pdf.ln(5)


def text_image(text: str, size: tuple[int, int] = A4_PIXELS, mode: str = "L") -> Image.Image:
    """Printed text as a clean 300-dpi scan: 12 pt type, 1-inch margins, lines wrapped to the width."""
    if not FONT.exists():
        return _rendered_pdf_image(text, size).convert(mode)
    width, height = size
    font = ImageFont.truetype(str(FONT), size=50)  # 12 pt at 300 dpi
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    margin = DPI if width > 4 * DPI else 40
    y = min(DPI, height // 10)
    for paragraph in text.split("\n"):
        for line in _wrap(paragraph, font, width - 2 * margin):
            draw.text((margin, y), line, font=font, fill="black")
            y += 75
        y += 40
    image.info["dpi"] = (DPI, DPI)
    return image


def _wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Greedy line breaking by measured width."""
    lines: list[str] = []
    line = ""
    for word in paragraph.split():
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            candidate = word
        line = candidate
    return [*lines, line]


def _rendered_pdf_image(text: str, size: tuple[int, int]) -> Image.Image:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(text_pdf([text]))
    try:
        image: Image.Image = document[0].render(scale=DPI / 72, grayscale=True).to_pil().crop((0, 0, *size))
    finally:
        document.close()
    image.info["dpi"] = (DPI, DPI)
    return image


def image_bytes(image: Image.Image, file_format: str) -> bytes:
    """The image saved as PNG, JPEG or TIFF, keeping its 300 dpi."""
    out = io.BytesIO()
    image.save(out, file_format, dpi=(DPI, DPI))
    return out.getvalue()


def multipage_tiff(images: Sequence[Image.Image]) -> bytes:
    """A TIFF with one frame per image, as a document scanner writes a multi-page scan."""
    out = io.BytesIO()
    first, *rest = images
    first.save(out, "TIFF", save_all=True, append_images=rest, dpi=(DPI, DPI), compression="tiff_deflate")
    return out.getvalue()


def scanned_pdf(images: Sequence[Image.Image]) -> bytes:
    """An image-only PDF (no text layer), one page per image, 300 dpi."""
    out = io.BytesIO()
    first, *rest = [image.convert("L") for image in images]
    first.save(out, "PDF", resolution=DPI, save_all=True, append_images=rest)
    return out.getvalue()


def mixed_pdf(text_page: str, scan: Image.Image) -> bytes:
    """Page 1 has a text layer; page 2 is a scanned image with none."""
    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 7, text_page)
    pdf.add_page()
    pdf.image(scan, x=0, y=0, w=210, h=297 * scan.height / A4_PIXELS[1])
    return bytes(pdf.output())


def encrypted_pdf(text: str, user_password: str | None = "secret") -> bytes:
    """A PDF encrypted with AES-256; with a user password it cannot be opened without it, without one it opens
    for anyone (only the owner's permissions are restricted)."""
    from fpdf.enums import EncryptionMethod

    pdf = FPDF(format="A4")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 7, text)
    pdf.set_encryption("owner-secret", user_password=user_password, encryption_method=EncryptionMethod.AES_256)
    return bytes(pdf.output())


def truncated_pdf(text: str) -> bytes:
    """A text PDF cut off part way, as an interrupted upload leaves it."""
    whole = text_pdf([text, text])
    return whole[: len(whole) * 2 // 3]


def bomb_png(width: int = 12_000, height: int = 12_000) -> bytes:
    """A few kilobytes of PNG that decode to ``width x height`` pixels (144 Mpx by default): a decompression
    bomb. 1-bit pixels keep even making it cheap."""
    out = io.BytesIO()
    blank_bitmap(width, height).save(out, "PNG")
    return out.getvalue()


def blank_bitmap(width: int, height: int) -> Image.Image:
    """A white 1-bit image: one bit a pixel, so even a huge one costs little memory and compresses to nothing."""
    return Image.new("1", (width, height), 1)
