"""Drawing the town's printed documents with fpdf2: an A4 or A5 page in Source Sans Pro
(SIL Open Font License, from the font-source-sans-pro package), embedded and subset in each
PDF (a print shop refuses a file whose fonts it must substitute); French typography set as
typed; QR codes. What the documents say is services/launchkit.py."""

from __future__ import annotations

import re
from pathlib import Path

import font_source_sans_pro
import qrcode
from fpdf import FPDF
from qrcode.constants import ERROR_CORRECT_M

FONT = "SourceSans"
FONT_DIR = Path(font_source_sans_pro.font_directory)
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf",
              "I": "SourceSansPro-It.ttf"}  # fmt: skip
# Page sizes in mm (fpdf2 warns about its own A5 since it corrected it).
PAGES = {"A4": (210, 297), "A5": (148, 210)}


def document(title: str, page_format: str) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format=PAGES[page_format])
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(auto=False)
    for style, file in FONT_FILES.items():
        pdf.add_font(FONT, style, FONT_DIR / file)  # embedded, subset to the letters used
    pdf.set_title(title)
    pdf.set_lang("fr")
    pdf.set_creator("webleads-tracker")
    pdf.add_page()
    return pdf


def write_text(pdf: FPDF, size: float, style: str, text: str, color, align: str = "L") -> None:
    pdf.set_font(FONT, style, size)
    pdf.set_text_color(*color)
    pdf.set_x(pdf.l_margin)
    pdf.multi_cell(pdf.epw, size * 0.45, french(text), align=align)
    pdf.ln(size * 0.2)


FRENCH_SPACE = re.compile(r" ([?!:;»])|(«) ")


def french(text: str) -> str:
    """French typography: a narrow no-break space before ? ! : ; and inside « », so that
    a question mark never starts a line alone."""
    return FRENCH_SPACE.sub(lambda m: f"\u202f{m[1]}" if m[1] else f"{m[2]}\u202f", text)


def qr_image(url: str):
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    return qr.make_image(fill_color="black", back_color="white").get_image()
