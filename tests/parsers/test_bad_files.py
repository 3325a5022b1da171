"""Files that cannot be read fail with DocumentUnreadable and a reason a person understands, never with a
library's exception or a dead process."""

from __future__ import annotations

import pytest

from adapters.parsers import FileParser
from domain.errors import DocumentUnreadable
from domain.ports import ParsedDocument
from tests.documents import (
    blank_bitmap,
    bomb_png,
    encrypted_pdf,
    image_bytes,
    multipage_tiff,
    text_image,
    text_pdf,
    truncated_pdf,
)


@pytest.fixture(scope="module")
def parser() -> FileParser:
    return FileParser()


@pytest.fixture(scope="module")
def png() -> bytes:
    return image_bytes(text_image("A small page.", (1240, 400)), "PNG")


def unreadable(parser: FileParser, filename: str, data: bytes) -> str:
    with pytest.raises(DocumentUnreadable) as caught:
        parser.parse(filename, data)
    return caught.value.message


@pytest.mark.parametrize("filename", ["empty.pdf", "empty.png", "empty.txt"])
def test_zero_byte_file(parser: FileParser, filename: str) -> None:
    assert "empty (0 bytes)" in unreadable(parser, filename, b"")


def test_password_protected_pdf_is_refused_as_encrypted(parser: FileParser) -> None:
    assert "encrypted" in unreadable(parser, "secret.pdf", encrypted_pdf("The launch date is secret."))


def test_pdf_encrypted_without_a_user_password_opens_for_anyone_and_is_read(parser: FileParser) -> None:
    parsed: ParsedDocument = parser.parse("restricted.pdf", encrypted_pdf("Only printing is restricted.", None))
    assert parsed.pages[0].text == "Only printing is restricted."


def test_truncated_pdf(parser: FileParser) -> None:
    assert "truncated" in unreadable(parser, "cut.pdf", truncated_pdf("An upload that stopped half way. " * 40))


def test_truncated_pdf_that_still_ends_with_an_eof_marker(parser: FileParser) -> None:
    whole = text_pdf(["First page. " * 40, "Second page. " * 40])
    assert "corrupt or truncated" in unreadable(parser, "cut.pdf", whole[: len(whole) // 2] + b"\n%%EOF\n")


def test_corrupt_pdf(parser: FileParser) -> None:
    garbage = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
    assert "corrupt" in unreadable(parser, "garbage.pdf", garbage)


def test_png_named_pdf(parser: FileParser, png: bytes) -> None:
    reason = unreadable(parser, "report.pdf", png)
    assert "a PNG image, not a PDF document" in reason and "does not match its extension .pdf" in reason


def test_pdf_named_png(parser: FileParser) -> None:
    reason = unreadable(parser, "photo.png", text_pdf(["Hello."]))
    assert "a PDF document, not a PNG image" in reason


def test_png_named_jpg(parser: FileParser, png: bytes) -> None:
    assert "a PNG image, not a JPEG image" in unreadable(parser, "photo.jpg", png)


@pytest.mark.parametrize("data", [bytes(range(256)) * 4, b"\x7fELF\x02\x01\x01" + b"\x00" * 64])
def test_binary_named_txt(parser: FileParser, data: bytes) -> None:
    assert "does not match its extension .txt" in unreadable(parser, "notes.txt", data)


def test_pdf_named_txt(parser: FileParser) -> None:
    assert "a PDF document, not text" in unreadable(parser, "notes.txt", text_pdf(["Hello."]))


def test_unknown_extension(parser: FileParser) -> None:
    assert "unsupported file type .exe" in unreadable(parser, "setup.exe", b"MZ...")


def test_decompression_bomb_png_is_refused(parser: FileParser) -> None:
    data = bomb_png()
    assert len(data) < 100_000  # small on disk, 144 Mpx decoded
    assert "decompression bomb" in unreadable(parser, "bomb.png", data)


def test_image_over_the_pixel_limit_but_under_pillows_own_is_refused(parser: FileParser) -> None:
    reason = unreadable(parser, "big.png", bomb_png(8_000, 6_000))  # 48 Mpx
    assert "8000x6000 pixels" in reason and "over the limit of 40 Mpx" in reason


def test_tiff_with_one_huge_frame_is_refused(parser: FileParser) -> None:
    small = text_image("Cover page.", (1240, 400))
    reason = unreadable(parser, "scan.tiff", multipage_tiff([small.convert("1"), blank_bitmap(9_000, 9_000)]))
    assert "(page 2)" in reason and "decompression bomb" in reason


def test_truncated_png(parser: FileParser, png: bytes) -> None:
    assert "corrupt or truncated" in unreadable(parser, "cut.png", png[: len(png) // 2])


def test_garbage_after_a_png_signature(parser: FileParser) -> None:
    assert "corrupt or truncated" in unreadable(parser, "bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 10)
