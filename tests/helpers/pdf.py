"""Real PDFs for tests, written with pypdf: one page per list of lines, in Helvetica; and a loan
offer an owner might send, with a phrase found nowhere else (on page 3)."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

LOAN_OFFER = [
    [
        "Crumbly Crust Bakery: loan offer from Northbank.",
        "Northbank offers the Crumbly Crust bakery a loan of 40,000 dollars to buy two new deck ovens and a "
        "proofing cabinet.",
        "The bakery has traded for six years and employs eight people.",
        "The offer is valid for sixty days from the date on this letter, and the loan is secured on the new "
        "equipment only.",
    ],
    [
        "Interest and term.",
        "The interest rate is 9.5 percent a year, fixed for five years.",
        "Repayments are monthly, starting after a three-month repayment holiday while the ovens are installed.",
        "Late payments cost a fee of 25 dollars each, and two missed payments in a row allow the bank to demand "
        "the whole balance.",
    ],
    [
        "Early repayment.",
        "Repaying the loan early costs a flat fee: the blueberry clause sets the early repayment fee at 2.5 "
        "percent of the balance repaid.",
        "The bakery must give Northbank thirty days of notice in writing before repaying early.",
        "After the third year the early repayment fee falls to one percent.",
    ],
]
LOAN_QUESTION = "What early repayment fee does my loan offer charge?"


def pdf_of(pages: list[list[str]]) -> bytes:
    """A PDF whose page n shows pages[n]'s lines, top to bottom (text pypdf can extract)."""
    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        shown = " T* ".join(f"({_escaped(line)}) Tj" for line in lines)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 11 Tf 14 TL 72 720 Td {shown} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _escaped(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
