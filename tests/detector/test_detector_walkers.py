"""Where each walker puts an image's end, and how broken or odd inputs are reported."""

from __future__ import annotations

import random
import struct

import pytest
from detector_carriers import CARRIERS, PAYLOADS, bmp, jpeg, png, segment, ts_stream, webp

from detector import DetectorError, ImageTooLargeError, inspect_bytes
from detector.walkers import walk


def test_exif_thumbnail_eoi_is_not_the_end_of_a_camera_jpeg():
    image = jpeg(thumbnail=True)
    assert image.find(b"\xff\xd9") < len(image) - 2  # a first-footer scan stops in the thumbnail
    assert walk(image).end == len(image)


def test_stuffed_ff_d9_in_scan_data_is_not_the_end():
    image = jpeg()
    assert b"\xff\x00\xd9" in image
    assert walk(image).end == len(image)


def test_progressive_jpeg_walks_every_scan():
    image = jpeg(progressive=True)
    assert image.count(b"\xff\xda") == 6
    assert walk(image).end == len(image)


def test_restart_markers_do_not_end_a_scan():
    image = jpeg(restart_every=32)
    assert b"\xff\xd3" in image
    assert walk(image).end == len(image)


def test_garbage_between_jpeg_segments_is_skipped_and_reported():
    image = jpeg()
    cut = image.find(b"\xff\xdb")
    data = image[:cut] + b"junk" + image[cut:]
    w = walk(data)
    assert w.end == len(data)
    assert w.notes["skippedBytes"] == 4


def test_jpeg_ls_bit_stuffed_ff_is_scan_data():
    image = jpeg()
    sos = image.rfind(b"\xff\xda")
    body_at = sos + 2 + 12
    data = image[:body_at] + b"\xff\x7f\xff\x12" + image[body_at:]
    assert walk(data).end == len(data)


def test_bmp_bogus_huge_bfsize_is_ignored():
    image = bytearray(bmp())
    struct.pack_into("<I", image, 2, 808_464_432)  # ASCII "0000", as in Pillow's l2rgb_read.bmp
    w = walk(bytes(image))
    assert w.end == len(image)
    assert w.notes["bfSizeIgnored"] == 808_464_432


def test_bmp_bfsize_a_little_past_the_pixels_is_trusted():
    image = bytearray(bmp() + b"\x00\x00")
    struct.pack_into("<I", image, 2, len(image))
    assert walk(bytes(image)).end == len(image)


def test_bmp_colour_profile_after_the_pixels_belongs_to_the_image():
    image = bmp(profile=b"P" * 500)
    w = walk(image)
    assert w.end == len(image)
    assert w.notes["iccProfile"] == 500


def test_webp_odd_chunk_pad_byte_belongs_to_the_image():
    image = webp()
    assert len(image) % 2 == 0
    assert walk(image).end == len(image)


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_truncated_image_is_reported_truncated_not_suspicious(carrier):
    image = CARRIERS[carrier]()
    result = inspect_bytes(image[: len(image) * 2 // 3])
    assert result["suspicious"] is False
    assert result["detail"]["truncated"] is True


def test_png_with_a_non_chunk_is_reported_corrupt_not_suspicious():
    image = png()
    data = image[:33] + b"\x00\x00\x00\x10\x01\x02\x03\x04" + image[33:]
    result = inspect_bytes(data)
    assert result["suspicious"] is False
    assert "PNG chunk at 33" in result["detail"]["corrupt"]


def test_bmp_with_impossible_geometry_is_reported_corrupt():
    image = bytearray(bmp())
    struct.pack_into("<H", image, 28, 13)  # 13 bits per pixel
    assert "corrupt" in inspect_bytes(bytes(image))["detail"]


def test_mpeg_ts_inside_a_truncated_jpeg_is_still_flagged():
    image = jpeg()[:-3]
    stream = ts_stream(count=40)
    result = inspect_bytes(image + stream)
    assert result["suspicious"] is True
    assert result["suspiciousType"] == "MPEG-TS"
    assert result["suspiciousBeginByte"] == len(image)


@pytest.mark.parametrize("packet", [188, 192, 204])
def test_bare_ts_stream_with_image_extension_is_flagged_from_byte_zero(packet):
    stream = ts_stream(packet)
    result = inspect_bytes(stream)
    assert result["picType"] == "unknown"
    assert (result["suspicious"], result["suspiciousBeginByte"], result["suspiciousSize"]) == (True, 0, len(stream))
    assert result["suspiciousType"] == "MPEG-TS"


def test_non_image_that_is_not_a_stream_is_unsupported_not_suspicious():
    result = inspect_bytes(PAYLOADS["zip"][0]())
    assert result["suspicious"] is False
    assert result["detail"]["content"] == "ZIP"
    assert "unsupported" in result["detail"]


def test_empty_object_is_corrupt():
    assert inspect_bytes(b"") == {
        "picSize": 0, "picType": "unknown", "suspicious": False, "detail": {"corrupt": "empty object"},
    }


def test_clean_result_has_only_tencent_fields_and_detail():
    assert set(inspect_bytes(png())) == {"picSize", "picType", "suspicious", "detail"}


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_like_inputs_are_accepted(wrap):
    data = png() + PAYLOADS["zip"][0]()
    assert inspect_bytes(wrap(data))["suspiciousType"] == "ZIP"


def test_object_over_32_mb_raises_a_detector_error_naming_the_limit():
    with pytest.raises(ImageTooLargeError) as info:
        inspect_bytes(bytes(32 * 1024 * 1024 + 1))
    assert isinstance(info.value, DetectorError)
    assert "32 MB" in str(info.value)


def test_segment_helper_counts_its_own_length():
    assert segment(0xFE, b"abc") == b"\xff\xfe\x00\x05abc"


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_mangled_images_get_a_verdict_never_an_exception(carrier):
    rng = random.Random(carrier)
    image = CARRIERS[carrier]()
    for _ in range(150):
        data = bytearray(image)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        cut = rng.randrange(len(data) // 2, len(data) + 1)
        result = inspect_bytes(bytes(data[:cut]))
        assert result["picSize"] == cut
