"""Tails that real cameras, phones and tools write must never be flagged; abuse of them must be."""

from __future__ import annotations

import pytest
from detector_carriers import (
    CARRIERS,
    PAYLOADS,
    afcp,
    canon_vrd,
    fotostation,
    gif,
    jpeg,
    micro_video_xmp,
    motion_photo_xmp,
    mp4_video,
    mpo,
    photomechanic,
    png,
    png_chunk,
    samsung_seft,
    ts_stream,
)

from detector import inspect_bytes

PADDINGS = {
    "photoshop-2-nuls": (b"\x00\x00", "zero-padding"),
    "raspberry-pi-align": (b"\x00\x00\x00", "zero-padding"),
    "sensor-4k-zeros": (b"\x00" * 4096, "zero-padding"),
    "phone-100k-zeros": (b"\x00" * 100_000, "zero-padding"),
    "ff-fill": (b"\xff" * 600, "ff-padding"),
    "crlf": (b"\r\n", "whitespace"),
    "newline": (b"\n", "whitespace"),
    "dahua-dhav-stub": (b"dhav\x00\x01\x02\x03", "junk"),
    "esp32-stale-16": (bytes(range(100, 116)) * 2, "junk"),
}


@pytest.mark.parametrize("tail", sorted(PADDINGS))
@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_padding_or_tiny_junk_after_image_is_benign(carrier, tail):
    image = CARRIERS[carrier]()
    extra, kind = PADDINGS[tail]
    result = inspect_bytes(image + extra)
    assert result["suspicious"] is False
    # An MPO's own appended images come first ("appended-jpeg+zero-padding").
    assert result["detail"]["trailer"].split("+")[-1] == kind


def _assert_benign(data: bytes, trailer: str) -> None:
    result = inspect_bytes(data)
    assert result["suspicious"] is False, result
    assert result["detail"]["trailer"] == trailer


def test_mpo_stereo_pair_declared_by_mpf_is_benign():
    _assert_benign(mpo([jpeg(3, 2000)]), "appended-jpeg")


def test_ultra_hdr_gain_map_declared_by_mpf_is_benign():
    _assert_benign(mpo([jpeg(4, 800)], attribute=0x050000), "appended-jpeg")


def test_mpf_images_with_zero_padding_between_them_are_benign():
    _assert_benign(mpo([jpeg(3, 900) + b"\x00" * 7, jpeg(4, 700)]), "appended-jpeg+appended-jpeg")


def test_preview_jpeg_appended_without_mpf_is_benign():
    _assert_benign(jpeg() + jpeg(5, 500), "appended-jpeg")


def test_next_jpeg_after_a_broken_mpf_header_nul_is_benign():
    # Pillow's sugarshack_bad_mpo_header.jpg: the tail starts "\0\xff\xd8\xff\xe1".
    _assert_benign(jpeg() + b"\x00" + jpeg(6, 500, thumbnail=True), "appended-jpeg")


def test_maker_note_preview_a_few_hundred_bytes_into_the_trailer_is_benign():
    gap = bytes(range(1, 251)) * 2  # Olympus E-20 style: the preview starts 500 bytes in
    _assert_benign(jpeg() + gap + jpeg(5, 500), "appended-jpeg")


def test_truncated_appended_preview_is_benign():
    preview = jpeg(5, 2000)
    result = inspect_bytes(jpeg() + preview[:1200])
    assert result["suspicious"] is False
    assert result["detail"]["trailer"] == "appended-jpeg-truncated"


def test_appended_png_after_png_is_benign():
    _assert_benign(png() + png(3, 3), "appended-png")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("AFCP", lambda image: afcp(len(image))),
        ("FotoStation", lambda image: fotostation()),
        ("PhotoMechanic", lambda image: photomechanic()),
        ("CanonVRD", lambda image: canon_vrd()),
        ("Samsung", lambda image: samsung_seft(mp4_video())),
    ],
)
def test_known_metadata_trailer_is_benign(name, make):
    image = jpeg(thumbnail=True)
    _assert_benign(image + make(image), name)


def test_stacked_metadata_trailers_are_benign():
    image = jpeg()
    _assert_benign(image + afcp(len(image)) + photomechanic(), "AFCP+PhotoMechanic")


def test_google_motion_photo_with_declared_consistent_mp4_is_benign():
    video = mp4_video()
    _assert_benign(jpeg(xmp=motion_photo_xmp(len(video))) + video, "MotionPhoto")


def test_google_micro_video_at_declared_offset_is_benign():
    video = mp4_video()
    _assert_benign(jpeg(xmp=micro_video_xmp(len(video))) + video, "MicroVideo")


def test_motion_photo_declaring_a_different_length_is_flagged_as_mp4():
    video = mp4_video()
    image = jpeg(xmp=motion_photo_xmp(len(video) + 100))
    result = inspect_bytes(image + video)
    assert result["suspiciousType"] == "MP4"
    assert result["suspiciousBeginByte"] == len(image)


@pytest.mark.parametrize(
    "xmp",
    [motion_photo_xmp, micro_video_xmp],
    ids=["motion-photo", "micro-video"],
)
def test_mpeg_ts_declared_as_motion_photo_video_is_flagged(xmp):
    stream = ts_stream(count=40)
    image = jpeg(xmp=xmp(len(stream)))
    result = inspect_bytes(image + stream)
    assert result["suspiciousType"] == "MPEG-TS"
    assert result["suspiciousBeginByte"] == len(image)


def test_mpeg_ts_inside_a_samsung_trailer_is_flagged():
    image = jpeg()
    result = inspect_bytes(image + samsung_seft(ts_stream(count=40)))
    assert result["suspiciousType"] == "MPEG-TS"
    assert result["suspiciousBeginByte"] == len(image)


def test_afcp_footer_pointing_at_nothing_is_not_a_trailer():
    image = jpeg()
    data = image + b"\x01" * 200 + b"AXS!" + b"\x00\x00\x00\x05" + b"\x00" * 4
    assert inspect_bytes(data)["suspiciousType"] == "UNKNOWN"


def test_acropalypse_png_remnant_is_benign():
    remnant = b"\x13\x57" * 300 + png_chunk(b"IEND", b"")
    _assert_benign(png() + remnant, "image-remnant")


def test_gif_js_zero_padding_after_trailer_is_benign():
    _assert_benign(gif() + b"\x00" * 2048, "zero-padding")


def test_gif_with_stray_nuls_before_the_trailer_ends_at_the_trailer():
    image = gif()
    data = image[:-1] + b"\x00\x00\x00" + b"\x3b"
    result = inspect_bytes(data)
    assert result["suspicious"] is False
    assert result["detail"]["imageEnd"] == len(data)


def test_gif_without_trailer_is_complete_at_end_of_file():
    result = inspect_bytes(gif(trailer=False))
    assert result["suspicious"] is False
    assert result["detail"]["missingTrailer"] is True


def test_zero_padding_then_zip_is_flagged_from_the_image_end():
    image = png()
    payload = PAYLOADS["zip"][0]()
    result = inspect_bytes(image + b"\x00" * 1000 + payload)
    assert result["suspiciousType"] == "ZIP"
    assert result["suspiciousBeginByte"] == len(image)
    assert result["detail"]["payloadOffset"] == len(image) + 1000


def test_mpeg_ts_behind_a_kilobyte_of_junk_is_still_mpeg_ts():
    image = png()
    result = inspect_bytes(image + bytes(range(7, 250)) * 5 + ts_stream(count=40))
    assert result["suspiciousType"] == "MPEG-TS"
    assert result["suspiciousBeginByte"] == len(image)
