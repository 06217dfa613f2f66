"""Odd-but-valid encoder output, written by Pillow here: clean as written, flagged once a payload follows.

These images are generated, not real (the real corpus is test_detector_fp_real_images.py); they
reach encoder paths the real corpus may miss. Options are Pillow's documented save parameters
(https://pillow.readthedocs.io/en/stable/handbook/image-file-formats.html, read 2026-12-01).
"""

from __future__ import annotations

import io
from typing import Callable, Dict, List

import pytest
from detector_carriers import PAYLOADS

from detector import inspect_bytes

Image = pytest.importorskip("PIL.Image", reason="Pillow (a dev dependency) is not installed")


def _picture(mode: str = "RGB", size=(97, 61)) -> Image.Image:
    """Odd-sized, photo-like content: a Mandelbrot set in one channel, gradients in the others."""
    fractal = Image.effect_mandelbrot(size, (-2.0, -1.2, 1.0, 1.2), 64)
    ramps = [Image.linear_gradient("L").resize(size), Image.radial_gradient("L").resize(size)]
    return Image.merge("RGB", [fractal, *ramps]).convert(mode)


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _frames(mode: str, count: int = 4) -> List[Image.Image]:
    return [_picture(mode).rotate(30 * i) for i in range(count)]


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "detector tests"  # Make
    exif[0x0132] = "2026:12:01 00:00:00"  # DateTime
    return exif.tobytes()


def _png_text() -> object:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "tEXt chunk")
    info.add_text("Title", "zTXt chunk " * 40, zip=True)
    info.add_itxt("Description", "iTXt chunk, ünïcode", lang="en", tkey="Beschreibung", zip=True)
    return info


def _animated(fmt: str, mode: str, **options) -> bytes:
    first, *rest = _frames(mode)
    return _save(first, fmt, save_all=True, append_images=rest, **options)


XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
BIG_ICC = bytes(range(256)) * 600  # 150 kB: split over three APP2 segments in a JPEG

VARIANTS: Dict[str, Callable[[], bytes]] = {
    "jpeg-baseline": lambda: _save(_picture(), "JPEG"),
    "jpeg-progressive": lambda: _save(_picture(), "JPEG", progressive=True),
    "jpeg-optimized-huffman": lambda: _save(_picture(), "JPEG", optimize=True),
    "jpeg-progressive-optimized-q100": lambda: _save(_picture(), "JPEG", progressive=True, optimize=True, quality=100),
    "jpeg-quality-1": lambda: _save(_picture(), "JPEG", quality=1),
    "jpeg-4:4:4": lambda: _save(_picture(), "JPEG", subsampling=0),
    "jpeg-4:2:2": lambda: _save(_picture(), "JPEG", subsampling=1),
    "jpeg-grayscale": lambda: _save(_picture("L"), "JPEG"),
    "jpeg-cmyk-adobe": lambda: _save(_picture("CMYK"), "JPEG"),
    "jpeg-restart-every-block": lambda: _save(_picture(), "JPEG", restart_marker_blocks=1),
    "jpeg-restart-every-row": lambda: _save(_picture(), "JPEG", restart_marker_rows=1),
    "jpeg-exif-xmp-comment-dpi": lambda: _save(_picture(), "JPEG", exif=_exif(), xmp=XMP, comment=b"COM segment",
                                               dpi=(300, 300)),
    "jpeg-150kB-icc-in-three-app2": lambda: _save(_picture(), "JPEG", icc_profile=BIG_ICC),
    "mpo-four-frames": lambda: _animated("MPO", "RGB"),
    "png-rgb": lambda: _save(_picture(), "PNG"),
    "png-optimized": lambda: _save(_picture(), "PNG", optimize=True),
    "png-stored-level-0": lambda: _save(_picture(), "PNG", compress_level=0),
    "png-palette-4-bit": lambda: _save(_picture("P"), "PNG", bits=4),
    "png-palette-transparency": lambda: _save(_picture("P"), "PNG", transparency=0),
    "png-1-bit": lambda: _save(_picture("1"), "PNG"),
    "png-16-bit-gray": lambda: _save(_picture("I").point(lambda v: v * 256).convert("I;16"), "PNG"),
    "png-rgba": lambda: _save(_picture("RGBA"), "PNG"),
    "png-text-ztxt-itxt": lambda: _save(_picture(), "PNG", pnginfo=_png_text()),
    "png-icc-exif-dpi": lambda: _save(_picture(), "PNG", icc_profile=BIG_ICC, exif=_exif(), dpi=(72, 72)),
    "apng-animated": lambda: _animated("PNG", "RGBA", duration=40, loop=0),
    "gif-87a-still": lambda: _save(_picture("P"), "GIF"),
    "gif-not-interlaced": lambda: _save(_picture("P"), "GIF", interlace=False),
    "gif-optimized-comment": lambda: _save(_picture("P"), "GIF", optimize=True, comment=b"C" * 600),
    "gif-grayscale": lambda: _save(_picture("L"), "GIF"),
    "gif-1-bit": lambda: _save(_picture("1"), "GIF"),
    "gif-animated-disposal-transparency": lambda: _animated("GIF", "P", duration=[40, 80, 120, 160], loop=0,
                                                            disposal=2, transparency=0),
    "gif-animated-optimized-frames": lambda: _animated("GIF", "P", optimize=True, duration=50),
    "bmp-1-bit": lambda: _save(_picture("1"), "BMP"),
    "bmp-8-bit-palette": lambda: _save(_picture("P"), "BMP"),
    "bmp-8-bit-gray": lambda: _save(_picture("L"), "BMP"),
    "bmp-24-bit": lambda: _save(_picture(), "BMP"),
    "bmp-32-bit-rgba": lambda: _save(_picture("RGBA"), "BMP"),
    "webp-lossy": lambda: _save(_picture(), "WEBP"),
    "webp-lossy-odd-quality-method-6": lambda: _save(_picture(), "WEBP", quality=37, method=6),
    "webp-lossless": lambda: _save(_picture(), "WEBP", lossless=True),
    "webp-alpha-vp8x-alph": lambda: _save(_picture("RGBA"), "WEBP"),
    "webp-icc-exif-xmp": lambda: _save(_picture(), "WEBP", icc_profile=BIG_ICC, exif=_exif(), xmp=XMP),
    "webp-animated": lambda: _animated("WEBP", "RGBA", duration=40, loop=0),
    "webp-animated-lossless-mixed": lambda: _animated("WEBP", "RGB", lossless=True, allow_mixed=True, duration=40),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_odd_encoder_output_is_clean_and_walks_to_its_last_byte(name):
    data = VARIANTS[name]()
    result = inspect_bytes(data)
    assert result["suspicious"] is False, result
    detail = result["detail"]
    assert "truncated" not in detail and "corrupt" not in detail, detail
    if name.startswith("mpo"):
        # Frames 2-4, declared by the MPF index.
        assert detail["trailer"] == "+".join(["appended-jpeg"] * 3)
    else:
        assert detail["imageEnd"] == len(data) and "trailer" not in detail, detail


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_odd_encoder_output_with_a_zip_appended_is_flagged_from_its_end(name):
    data = VARIANTS[name]()
    result = inspect_bytes(data + PAYLOADS["zip"][0]())
    assert (result["suspiciousType"], result["suspiciousBeginByte"]) == ("ZIP", len(data))
