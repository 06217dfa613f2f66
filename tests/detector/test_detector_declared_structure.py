"""An image whose declared parts fill it exactly is clean, whatever one other header field says.

Issue 13 point 6. Each walker is checked against the fields it must *not* depend on: a BMP's
bfOffBits or biSizeImage, a WebP's RIFF size, a PNG's CRC or IHDR size, a JPEG's SOF height or
MPF offsets, a GIF's screen size. Layouts follow the formats' published specifications (read
2026-12-01): Microsoft "BITMAPINFOHEADER structure" and "Bitmap Compression" (RLE8/RLE4 escapes
00 00 end-of-line, 00 01 end-of-bitmap, 00 02 delta, 00 NN absolute run padded to a word);
Pillow's Tests/images/bmp (bmpsuite q/ files: rgb24png.bmp, rgb24jpeg.bmp with a bit count of 0,
rgb24lprof.bmp with a linked profile after the pixels); RFC 9649 (WebP container, chunk types);
the PNG specification (chunk layout); GIF89a (block layout).
"""

from __future__ import annotations

import struct

import pytest
from detector_carriers import PAYLOADS, gif, jpeg, png, png_chunk, segment, ts_stream, webp

from detector import inspect_bytes
from detector.walkers import walk


def bmp_file(pixels: bytes, *, bpp: int = 8, width: int = 4, height: int = 2, compression: int = 0,
             palette: int = 256, clr_used: int = 0, off_bits: int = 0, bf_size: int = 0,
             size_image: int = 0, tail: bytes = b"") -> bytes:
    """A BITMAPINFOHEADER BMP; 0 for off_bits/bf_size means the consistent value."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, compression, size_image, 2835, 2835, clr_used, 0)
    colours = bytes(i % 251 for i in range(palette * 4))
    body = info + colours + pixels + tail
    header = struct.pack("<IHHI", bf_size or 14 + len(body), 0, 0, off_bits or 14 + 40 + len(colours))
    return b"BM" + header + body


ROWS_8BPP = bytes(range(1, 9))  # 4x2 at 8 bpp: two 4-byte rows, no padding needed
# Two rows: a run of 4 pixels of colour 7, end-of-line; an absolute run of 4, end-of-line; end-of-bitmap.
RLE8 = b"\x04\x07\x00\x00" + b"\x00\x04\x01\x02\x03\x04\x00\x00" + b"\x00\x01"
# RLE4, 6 pixels wide: an absolute run of 5 nibbles (3 bytes + 1 pad), a run of 1; a delta; end-of-bitmap.
RLE4 = b"\x00\x05\x12\x34\x50\x00\x01\x60\x00\x00" + b"\x00\x02\x00\x01" + b"\x00\x01"


def _assert_whole_file_clean(data: bytes) -> None:
    result = inspect_bytes(data)
    assert result["suspicious"] is False, result
    assert result["detail"]["imageEnd"] == len(data), result
    assert "truncated" not in result["detail"] and "corrupt" not in result["detail"]


CLEAN_BMPS = {
    # The case: bfOffBits forgot the palette (Pillow's mmap_error.bmp layout), bfSize is right.
    "bfOffBits-skips-the-palette": dict(pixels=ROWS_8BPP, off_bits=54),
    # bmpsuite pal8offs.bmp has a gap before the pixels; here bfSize forgot the gap.
    "gap-before-pixels-bfSize-counts-no-gap": dict(pixels=bytes(16) + ROWS_8BPP, off_bits=14 + 40 + 1024 + 16,
                                                   bf_size=14 + 40 + 1024 + len(ROWS_8BPP)),
    "biSizeImage-a-little-too-large": dict(pixels=ROWS_8BPP, size_image=len(ROWS_8BPP) + 8),
    "biSizeImage-huge": dict(pixels=ROWS_8BPP, size_image=0x7FFFFFFF),
    "biSizeImage-too-small": dict(pixels=ROWS_8BPP, size_image=2),
    "oversized-palette-declared-by-biClrUsed": dict(pixels=ROWS_8BPP, palette=300, clr_used=300),
    "short-palette-declared-by-biClrUsed": dict(pixels=ROWS_8BPP, palette=2, clr_used=2),
    "rle8-biSizeImage-too-small": dict(pixels=RLE8, compression=1, size_image=4),
    "rle8-biSizeImage-zero": dict(pixels=RLE8, compression=1),
    "rle8-biSizeImage-huge": dict(pixels=RLE8, compression=1, size_image=1 << 20),
    "rle8-without-end-of-bitmap-bfSize-decides": dict(pixels=RLE8[:-2], compression=1),
    "rle4-absolute-run-and-delta": dict(pixels=RLE4, bpp=4, width=6, compression=2, palette=16, size_image=3),
    "bi-png-bit-count-0": dict(pixels=png(), bpp=0, compression=5, palette=0),
    "bi-png-biSizeImage-too-small": dict(pixels=png(), bpp=0, compression=5, palette=0, size_image=10),
    "bi-jpeg-bit-count-0": dict(pixels=jpeg(), bpp=0, compression=4, palette=0),
}


@pytest.mark.parametrize("case", sorted(CLEAN_BMPS))
def test_bmp_whose_declared_parts_fill_the_file_is_clean(case):
    _assert_whole_file_clean(bmp_file(**CLEAN_BMPS[case]))


@pytest.mark.parametrize("case", ["bfOffBits-skips-the-palette", "rle8-biSizeImage-too-small", "bi-png-bit-count-0"])
def test_bmp_with_bogus_bfsize_still_ends_where_its_parts_end(case):
    image = bmp_file(**CLEAN_BMPS[case])
    bogus = bytearray(image)
    struct.pack_into("<I", bogus, 2, 808_464_432)
    w = walk(bytes(bogus))
    # bfOffBits is what decoders read pixels at, so that layout wins once bfSize confirms nothing.
    expected = 54 + len(ROWS_8BPP) if case == "bfOffBits-skips-the-palette" else len(image)
    assert (w.end, w.notes["bfSizeIgnored"]) == (expected, 808_464_432)


SUSPICIOUS_BMPS = {
    # bfSize covers the payload too, but no layout of the declared parts reaches it.
    "payload-after-pixels-bfSize-covers-it": dict(pixels=ROWS_8BPP),
    "payload-after-pixels-bfOffBits-skips-palette": dict(pixels=ROWS_8BPP, off_bits=54),
    # biSizeImage and bfSize agree with each other, but the RLE stream ended before the payload.
    "payload-after-rle-end-of-bitmap": dict(pixels=RLE8, compression=1, size_image=len(RLE8) + 3000),
    "payload-after-embedded-png": dict(pixels=png(), bpp=0, compression=5, palette=0),
}


@pytest.mark.parametrize("case", sorted(SUSPICIOUS_BMPS))
def test_bmp_payload_outside_every_declared_layout_is_flagged(case):
    payload = PAYLOADS["zip"][0]()
    data = bmp_file(tail=payload, **SUSPICIOUS_BMPS[case])
    result = inspect_bytes(data)
    assert result["suspicious"] is True, result
    # With bfOffBits believed, the flagged region starts at the palette copy, before the ZIP.
    assert result["suspiciousBeginByte"] <= len(data) - len(payload)


def test_bmp_linked_profile_name_after_the_pixels_belongs_to_the_image():
    # bmpsuite rgb24lprof.bmp: CSType 'LINK', ProfileData points at a file name after the pixels.
    pixels = bytes(24 * 2)
    name = b"C:\\Windows\\System32\\spool\\drivers\\color\\sRGB.icm\x00"
    info = struct.pack("<IiiHHIIiiII", 124, 8, 2, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    info += b"\x00" * 16 + struct.pack("<I", 0x4C494E4B) + b"\x00" * 48
    info += struct.pack("<IIII", 4, 124 + len(pixels), len(name), 0)
    data = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels) + len(name), 0, 0, 14 + 124) + info + pixels + name
    _assert_whole_file_clean(data)


def _webp_chunk(fourcc: bytes, data: bytes, pad: bool = True) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 and pad else b"")


def test_webp_metadata_chunk_appended_past_the_riff_size_is_part_of_the_image():
    image = webp() + _webp_chunk(b"EXIF", b"II*\x00\x08\x00\x00\x00" + bytes(200))
    w = walk(image)
    assert w.end == len(image)
    assert w.notes["riffSizeIgnored"] == len(webp()) - 8
    assert inspect_bytes(image)["suspicious"] is False


def test_webp_without_its_final_pad_byte_is_complete():
    image = bytearray(webp()[:-1])  # the VP8L chunk has an odd size; its pad byte was the last byte
    struct.pack_into("<I", image, 4, len(image) - 8)  # the writer counted what it wrote: an odd RIFF size
    w = walk(bytes(image))
    assert (w.end, w.notes["missingPadByte"]) == (len(image), True)


@pytest.mark.parametrize(
    ("name", "tail", "kind"),
    [
        ("unknown-chunk-type", _webp_chunk(b"ZZZZ", bytes(range(256)) * 4), "UNKNOWN"),
        ("mpeg-ts-wrapped-as-exif", _webp_chunk(b"EXIF", ts_stream(count=40)), "MPEG-TS"),
        ("zip-after-the-riff-end", PAYLOADS["zip"][0](), "ZIP"),
    ],
)
def test_webp_tail_that_is_not_webp_metadata_is_flagged(name, tail, kind):
    image = webp()
    result = inspect_bytes(image + tail)
    assert result["suspiciousType"] == kind
    assert result["suspiciousBeginByte"] == len(image)


def _png_with_bad_crc() -> bytes:
    image = bytearray(png(text=True))
    at = image.find(b"tEXt") + 4 + len(b"Comment\x00made by the detector tests")
    image[at] ^= 0xFF
    return bytes(image)


def _png_with_wrong_ihdr_size() -> bytes:
    image = bytearray(png())
    struct.pack_into(">II", image, 16, 4000, 3000)
    return bytes(image)


def _jpeg_with_sof_height_0() -> bytes:
    image = bytearray(jpeg())
    sof = image.find(b"\xff\xc0")
    struct.pack_into(">H", image, sof + 5, 0)  # height defined later by DNL
    return bytes(image)


def _jpeg_with_mpf_offset_past_the_end() -> bytes:
    entries = struct.pack("<IIIHH", 0x030000, 0, 0, 0, 0) + struct.pack("<IIIHH", 0x010002, 5000, 1 << 30, 0, 0)
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0xB002, 7, len(entries), 8 + 2 + 12 + 4) + b"\x00" * 4
    return jpeg(app2=segment(0xE2, b"MPF\x00" + b"II*\x00\x08\x00\x00\x00" + ifd + entries))


def _gif_with_frame_bigger_than_screen() -> bytes:
    image = bytearray(gif())
    struct.pack_into("<HH", image, 6, 2, 2)
    return bytes(image)


def _gif_with_short_graphic_control_block() -> bytes:
    image = gif()
    return image.replace(b"\x21\xf9\x04\x04\x0a\x00\x00\x00", b"\x21\xf9\x02\x04\x0a\x00", 1)


IGNORED_FIELDS = {
    "png-chunk-crc-wrong": _png_with_bad_crc,
    "png-ihdr-size-disagrees-with-idat": _png_with_wrong_ihdr_size,
    "png-ancillary-chunk-after-idat": lambda: png()[:-12] + png_chunk(b"tIME", bytes(7)) + png_chunk(b"IEND", b""),
    "jpeg-sof-height-0": _jpeg_with_sof_height_0,
    "jpeg-mpf-offset-past-the-end": _jpeg_with_mpf_offset_past_the_end,
    "gif-frame-bigger-than-screen": _gif_with_frame_bigger_than_screen,
    "gif-graphic-control-block-short": _gif_with_short_graphic_control_block,
}


@pytest.mark.parametrize("case", sorted(IGNORED_FIELDS))
def test_field_outside_the_walk_does_not_move_the_end(case):
    _assert_whole_file_clean(IGNORED_FIELDS[case]())
