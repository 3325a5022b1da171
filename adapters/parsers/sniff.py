"""What a file's bytes really are, from their signature: so that a PNG named .pdf is refused with a reason
that says so, instead of a parser's confused error."""

from __future__ import annotations

from pathlib import PurePath

from domain.errors import DocumentUnreadable

# (signature, where it may start at the latest, kind, description). PDF readers accept junk before the header
# within the first 1024 bytes, so the PDF signature may start anywhere there.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"%PDF-", 1024, "pdf", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", 0, "png", "a PNG image"),
    (b"\xff\xd8\xff", 0, "jpeg", "a JPEG image"),
    (b"II*\x00", 0, "tiff", "a TIFF image"),
    (b"MM\x00*", 0, "tiff", "a TIFF image"),
    (b"II+\x00", 0, "tiff", "a TIFF image"),  # BigTIFF
    (b"MM\x00+", 0, "tiff", "a TIFF image"),
    (b"GIF87a", 0, "gif", "a GIF image"),
    (b"GIF89a", 0, "gif", "a GIF image"),
    (b"PK\x03\x04", 0, "zip", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", 0, "gzip", "a gzip archive"),
    (b"\x7fELF", 0, "elf", "a program (ELF executable)"),
)


def sniff(data: bytes) -> str | None:
    """The kind of file the bytes are (pdf, png, jpeg, tiff, ...), or None when no signature matches."""
    for signature, latest, kind, _ in _SIGNATURES:
        if data.find(signature, 0, latest + len(signature)) >= 0:
            return kind
    if data[8:12] == b"WEBP" and data[:4] == b"RIFF":
        return "webp"
    return None


def is_binary(data: bytes) -> bool:
    """Bytes that are no text file: a NUL byte near the start, or a file signature at the very start. (A text
    may well mention %PDF- or GIF89a further in, so only offset 0 counts; GIF's signature is plain words.)"""
    if b"\x00" in data[:8192]:
        return True
    kind = sniff(data[:64])
    return kind is not None and kind != "gif" and (kind != "pdf" or data.startswith(b"%PDF-"))


def describe(data: bytes) -> str:
    """A phrase for what the bytes are: 'a PNG image', 'binary data of an unknown kind'."""
    kind = sniff(data)
    if kind == "webp":
        return "a WebP image"
    for _, _, known, description in _SIGNATURES:
        if known == kind:
            return description
    return "binary data of an unknown kind"


def mismatch(filename: str, data: bytes, expected: str) -> DocumentUnreadable:
    """The error for bytes that are not what the file's extension promises (``expected``: 'a PDF document')."""
    extension = PurePath(filename).suffix.lower() or "(none)"
    return DocumentUnreadable(
        f"the file's bytes are {describe(data)}, not {expected}: its content does not match its extension {extension}"
    )
