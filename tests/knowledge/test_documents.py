"""Reading knowledge files: front matter, formats, bad files, and splitting into chunks."""

from __future__ import annotations

import io

import pytest

from bot.knowledge import (
    KnowledgeFileError,
    count_tokens,
    discover,
    load_document,
    parse_document,
    split_document,
)
from tests.helpers import write

MB = 1024 * 1024


def test_front_matter_fields_are_parsed():
    doc = parse_document(
        "credit/loans.md",
        b"---\ntitle: Loans\ntopic: Credit\ntags: [loans, banks]\naudience: owners, founders\n"
        b"region: [AU, NZ]\nupdated: 2026-11-01\nsource: A consultant\n---\n\n# Ignored heading\n\nBody text here.\n",
    )
    assert doc.title == "Loans"
    assert doc.topic == "credit"
    assert doc.tags == ("loans", "banks")
    assert doc.audience == ("owners", "founders")
    assert doc.region == ("AU", "NZ")
    assert doc.updated == "2026-11-01"
    assert doc.source == "A consultant"
    assert doc.text.startswith("# Ignored heading")
    assert "title:" not in doc.text


def test_without_front_matter_title_comes_from_heading_then_file_name():
    with_heading = parse_document("growth/a.md", b"# Selling online\n\nText.")
    assert with_heading.title == "Selling online"
    assert with_heading.topic == "growth"  # from the folder
    plain = parse_document("notes/cash-flow-tips.txt", b"Keep a weekly cash forecast.")
    assert plain.title == "Cash flow tips"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"---\ntitle: Loans\ntopic: credit: extra\n---\nBody", "front matter is not valid YAML at line 3"),
        (b"---\ntitle: x\nBody without end", "no closing '---'"),
        (b"---\n- a\n- b\n---\nBody", "YAML mapping"),
        (b"---\ntags: {a: 1}\n---\nBody", "'tags' must be a list"),
        (b"---\ntitle: Only front matter\n---\n", "no text to index"),
        (b"   \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        ("Caf\xe9 au lait".encode("latin-1"), "not valid UTF-8"),
    ],
)
def test_bad_files_raise_a_reason(data, reason):
    with pytest.raises(KnowledgeFileError) as err:
        parse_document("bad.md", data)
    assert reason in err.value.reason
    assert err.value.path == "bad.md"


def test_oversized_file_is_refused(kdir):
    write(kdir, "big.md", "word " * (MB // 4))
    with pytest.raises(KnowledgeFileError, match="too large"):
        load_document(kdir / "big.md", kdir, max_bytes=MB // 2)


def test_docx_headings_become_sections():
    import docx

    document = docx.Document()
    document.add_heading("Trade guide", level=1)
    document.add_paragraph("Selling abroad starts with one market.")
    document.add_heading("Payments", level=2)
    document.add_paragraph("Price in your own currency to avoid exchange risk.")
    buffer = io.BytesIO()
    document.save(buffer)
    doc = parse_document("trade/guide.docx", buffer.getvalue())
    chunks = split_document(doc, 200, 20)
    assert doc.title == "Trade guide"
    assert [c.heading for c in chunks] == ["Trade guide", "Trade guide > Payments"]


def docx_with_body(paragraphs: str) -> bytes:
    """A Word file whose body is `paragraphs` (WordprocessingML), packed as Word packs it."""
    import zipfile

    import docx

    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source, packed = zipfile.ZipFile(buffer), io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for part in source.infolist():
            content = source.read(part.filename)
            if part.filename == "word/document.xml":
                content = content.replace(b"<w:body>", b"<w:body>" + paragraphs.encode(), 1)
            target.writestr(part.filename, content)
    return packed.getvalue()


@pytest.mark.hostile
def test_a_word_file_that_unpacks_to_far_more_than_it_holds_is_refused_before_reading():
    """18 KB of 2 million empty paragraphs took 172 s and hundreds of MB to read (a 2.3 MB one,
    3.1 GB): the zip's parts are checked first, and it is refused at once."""
    bomb = docx_with_body("<w:p/>" * 2_000_000)
    assert len(bomb) < 64 * 1024
    with pytest.raises(KnowledgeFileError, match=r"word/document.xml\) that unpacks to 11 MB from 18 KB"):
        parse_document("owner/bomb.docx", bomb)


def test_a_long_real_word_file_is_still_read():
    import random

    rng = random.Random(7)
    vocabulary = "cash loan invoice supplier price margin export customer staff plan rent stock tax".split()
    text = "".join(
        f"<w:p><w:r><w:t>{' '.join(rng.choice(vocabulary) for _ in range(40))}.</w:t></w:r></w:p>" for _ in range(5_000)
    )
    document = docx_with_body(text)  # ~1.4 MB of text in the zip's document part
    assert len(parse_document("owner/long.docx", document).text.split()) == 5_000 * 40


def test_pdf_text_is_extracted():
    doc = parse_document("credit/guide.pdf", minimal_pdf("Invoice finance advances cash against invoices."))
    assert "Invoice finance advances cash" in doc.text


def test_broken_pdf_is_reported():
    with pytest.raises(KnowledgeFileError, match="not a readable PDF"):
        parse_document("x.pdf", b"%PDF-1.4 this is not really a pdf")


def test_chunks_follow_headings_and_keep_metadata():
    doc = parse_document(
        "credit/loans.md",
        b"---\ntitle: Loans\ntags: [a]\n---\n# Loans\n\nIntro.\n\n## Preparing for a loan\n\nGather statements.\n\n"
        b"### Documents\n\nTax returns.\n\n## After a rejection\n\nAsk why.\n",
    )
    chunks = split_document(doc, 200, 20)
    assert [c.heading for c in chunks] == [
        "Loans",
        "Loans > Preparing for a loan",
        "Loans > Preparing for a loan > Documents",
        "Loans > After a rejection",
    ]
    assert [c.chunk_index for c in chunks] == [0, 1, 2, 3]
    assert {c.path for c in chunks} == {"credit/loans.md"}
    assert {c.content_hash for c in chunks} == {doc.content_hash}
    assert chunks[1].text == "Gather statements."
    assert chunks[1].tags == ("a",)


def test_long_sections_are_cut_to_the_token_limit_with_overlap():
    sentences = " ".join(f"Sentence number {i} talks about cash flow and working capital." for i in range(120))
    doc = parse_document("credit/long.md", f"# Long\n\n## Cash\n\n{sentences}\n".encode())
    chunks = split_document(doc, 100, 30)
    assert len(chunks) > 5
    assert all(count_tokens(c.text) <= 100 for c in chunks)
    assert all(c.heading == "Long > Cash" for c in chunks)
    # consecutive chunks share some text (the overlap)
    first_tail = chunks[0].text.split()[-4:]
    assert " ".join(first_tail) in chunks[1].text


def test_discover_skips_people_files_and_refuses_links_out(kdir, tmp_path):
    write(kdir, "README.md", "for consultants")
    write(kdir, "eval/questions.yaml", "[]")
    write(kdir, ".hidden.md", "x")
    write(kdir, "credit/a.md", "# A\n\ntext")
    write(kdir, "notes.xlsx", b"PK")
    outside = write(tmp_path, "outside/secret.md", "# Secret\n\ncompany secret")
    (kdir / "link.md").symlink_to(outside)
    (kdir / "linked-dir").symlink_to(outside.parent, target_is_directory=True)
    (kdir / "inside-link.md").symlink_to(kdir / "credit" / "a.md")
    files, skipped = discover(kdir)
    assert [p.relative_to(kdir).as_posix() for p in files] == ["credit/a.md", "inside-link.md"]
    reasons = {s.path: s.reason for s in skipped}
    assert "outside the knowledge dir" in reasons["link.md"]
    assert "outside the knowledge dir" in reasons["linked-dir"]
    assert "unsupported file type '.xlsx'" in reasons["notes.xlsx"]


def test_reading_through_dotdot_is_refused(kdir, tmp_path):
    write(tmp_path, "outside.md", "# Outside\n\nsecret")
    with pytest.raises(KnowledgeFileError, match="outside the knowledge dir"):
        load_document(kdir / ".." / "outside.md", kdir, max_bytes=MB)


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF with one line of Helvetica text, built by hand (no PDF writer needed)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
