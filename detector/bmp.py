"""BMP walker: the end from what the headers declare, cross-checked so one bad field cannot move it.

Each layout a decoder can use (pixels at bfOffBits, or right after the header, masks and palette;
RLE data walked to its end-of-bitmap; an embedded JPEG/PNG walked) gives a candidate end.
bfSize is trusted when it confirms one of them, so a file whose declared parts fill it exactly is
never flagged because another field (bfOffBits, biSizeImage) disagrees.
"""

from __future__ import annotations

import struct
from typing import Callable, List, Optional

from .model import Walk

_INFO_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
_BPP = (1, 2, 4, 8, 16, 24, 32, 64)
_OS2_V2 = 64  # OS/2 2.x: compression 3 is Huffman 1D and 4 is RLE24, not BITFIELDS and JPEG
_RGB, _RLE8, _RLE4, _BITFIELDS, _JPEG, _PNG, _ALPHABITFIELDS = 0, 1, 2, 3, 4, 5, 6
# CMYK (11) and its RLE forms are left to the declared sizes, as any other compression.
_UNCOMPRESSED = (_RGB, _BITFIELDS, _ALPHABITFIELDS)
# Masks that follow a 40-byte header instead of living inside it.
_MASK_BYTES = {_BITFIELDS: 12, _ALPHABITFIELDS: 16}
# An embedded ICC profile ('MBED') or a linked one's file name ('LINK') is stored at ProfileData.
_PROFILE_STORED = (0x4D424544, 0x4C494E4B)
# Writers pad bfSize a little (old ones add 2 zero bytes); more than this is a bogus header.
SLACK = 16
# Escapes (end-of-line, delta, absolute run) are walked one by one; a stream needing more is left to
# the declared sizes, so a 32 MB file made of escapes costs a bounded time (0.26 s on the 2-CPU box).
_RLE_MAX_ESCAPES = 1 << 19


def is_bmp(buf: bytes, pos: int) -> bool:
    """True when a BMP file header with a known info-header size starts at `pos`."""
    if buf[pos : pos + 2] != b"BM" or len(buf) < pos + 18:
        return False
    return struct.unpack_from("<I", buf, pos + 14)[0] in _INFO_SIZES


def walk_bmp(buf: bytes, start: int = 0, walk: Optional[Callable[[bytes, int], Walk]] = None) -> Walk:
    """Walk the BMP at `start`; `walk` walks an embedded JPEG/PNG (BI_JPEG, BI_PNG)."""
    n = len(buf)
    w = Walk("bmp")
    if start + 26 > n:
        return w.cut_short(start)
    bf_size, off_bits, info = struct.unpack_from("<I4xII", buf, start + 2)
    clr_used = 0
    if info == 12:
        width, height, _planes, bpp = struct.unpack_from("<HHHH", buf, start + 18)
        compression = size_image = 0
    elif info < 40:
        # OS/2 2.x short header: no compression fields.
        if start + 30 > n:
            return w.cut_short(start)
        width, height, _planes, bpp = struct.unpack_from("<iiHH", buf, start + 18)
        compression = size_image = 0
    else:
        if start + 54 > n:
            return w.cut_short(start)
        width, height, _planes, bpp, compression, size_image = struct.unpack_from("<iiHHII", buf, start + 18)
        (clr_used,) = struct.unpack_from("<I", buf, start + 46)
    if info == _OS2_V2 and compression in (_BITFIELDS, _JPEG):
        compression += 100  # Huffman 1D / RLE24: sizes only from the declared fields
    height = abs(height)
    # BI_JPEG and BI_PNG declare a bit count of 0: the embedded image carries its own.
    valid_bpp = bpp in _BPP or (bpp == 0 and compression in (_JPEG, _PNG))
    if width <= 0 or height == 0 or not valid_bpp or off_bits < 14 + info:
        return w.cut_short(start, f"BMP header is inconsistent ({width}x{height}, {bpp} bpp)")
    ends = _candidate_ends(buf, start, info, bpp, width, height, compression, size_image, clr_used, off_bits, walk)
    profile_end = _profile_end(buf, start, info, w)
    ends = [max(e, profile_end) for e in ends]
    declared = start + bf_size
    if not ends:
        # RLE without an end-of-bitmap or biSizeImage: bfSize is all there is.
        end = declared
    elif any(e <= declared <= e + SLACK for e in ends):
        # bfSize confirms a layout; the bfOffBits one, which decoders read, is never cut short.
        end = max(declared, ends[0]) if ends[0] <= n else declared
    else:
        end = ends[0]
        w.notes["bfSizeIgnored"] = bf_size
    if end > n:
        return w.cut_short(min(start + off_bits, n))
    w.end = end
    return w


def _candidate_ends(buf: bytes, start: int, info: int, bpp: int, width: int, height: int, compression: int,
                    size_image: int, clr_used: int, off_bits: int,
                    walk: Optional[Callable[[bytes, int], Walk]]) -> List[int]:
    """Ends of the layouts the header allows, the bfOffBits one first."""
    pixels = start + off_bits
    ends: List[int] = []
    if compression in _UNCOMPRESSED:
        rows = ((bpp * width + 31) // 32) * 4 * height
        ends.append(pixels + rows)
        # A writer that sets bfOffBits wrong still stores the pixels right after the palette.
        packed = start + _palette_end(info, bpp, compression, clr_used)
        if packed != pixels:
            ends.append(packed + rows)
    elif compression in (_RLE8, _RLE4):
        end = _rle_end(buf, pixels, compression == _RLE4)
        if end is not None:
            # Decoders stop at end-of-bitmap: what follows is a tail even if biSizeImage covers it.
            return [end]
    elif compression in (_JPEG, _PNG) and walk is not None and pixels < len(buf):
        sub = walk(buf, pixels)
        if sub.end is not None:
            ends.append(sub.end)
    if size_image and compression not in _UNCOMPRESSED:
        ends.append(pixels + size_image)
    return ends


def _palette_end(info: int, bpp: int, compression: int, clr_used: int) -> int:
    """Offset just past header, masks and palette: where packed pixels start."""
    masks = _MASK_BYTES.get(compression, 0) if info == 40 else 0
    entries = clr_used or (1 << bpp if bpp <= 8 else 0)
    return 14 + info + masks + entries * (3 if info == 12 else 4)


def _rle_end(buf: bytes, p: int, nibbles: bool) -> Optional[int]:
    """Offset just past an RLE8/RLE4 stream's end-of-bitmap escape, or None if it has none."""
    counts = buf[p::2]  # every token is an even number of bytes, so each starts at an even offset from p
    n = len(buf)
    i = 0
    for _ in range(_RLE_MAX_ESCAPES):
        i = counts.find(0, i)  # encoded pairs have a count of 1-255: the next 00 count is the next escape
        q = p + 2 * i
        if i < 0 or q + 2 > n:
            return None
        op = buf[q + 1]
        if op == 1:
            return q + 2
        if op == 0:
            i += 1
        elif op == 2:
            i += 2
        else:
            # Absolute run of `op` pixels, padded to a 16-bit boundary.
            size = (op + 1) // 2 if nibbles else op
            i += (2 + size + (size & 1)) // 2
    return None


def _profile_end(buf: bytes, start: int, info: int, w: Walk) -> int:
    """End of a BITMAPV5 profile, embedded or its linked file name (either may follow the pixels), or 0."""
    if info < 124 or start + 14 + 124 > len(buf):
        return 0
    (cs_type,) = struct.unpack_from("<I", buf, start + 14 + 56)
    prof_off, prof_size = struct.unpack_from("<II", buf, start + 14 + 112)
    if cs_type not in _PROFILE_STORED or not prof_size:
        return 0
    w.notes["iccProfile"] = prof_size
    return start + 14 + prof_off + prof_size
