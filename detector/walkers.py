"""Structural walkers for PNG, GIF, BMP and WebP, plus format sniffing and dispatch.

Each walker follows the container's own lengths to the logical end; none searches for a footer.
"""

from __future__ import annotations

import struct

from .jpeg import walk_jpeg
from .model import Walk

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK = struct.Struct(">I4s")
_BMP_INFO_SIZES = (12, 16, 40, 52, 56, 64, 108, 124)
_BMP_BPP = (1, 2, 4, 8, 16, 24, 32, 64)
# Compressions whose pixel array size follows from width, height and depth alone.
_BMP_UNCOMPRESSED = (0, 3, 6)
_BMP_PROFILE_EMBEDDED = 0x4D424544  # 'MBED'
# Writers pad bfSize a little (old ones add 2 zero bytes); more than this is a bogus header.
_BMP_SLACK = 16
# 1024 full GIF sub-blocks per strided look-up keeps the slice small for animated GIFs.
_GIF_SPAN = 256 * 1024


def sniff(buf: bytes, pos: int = 0) -> str:
    """The image format starting at `pos`, or "unknown"."""
    head = buf[pos : pos + 16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(_PNG_SIG):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(buf) >= pos + 18:
        (info,) = struct.unpack_from("<I", buf, pos + 14)
        if info in _BMP_INFO_SIZES:
            return "bmp"
    return "unknown"


def walk(buf: bytes, pos: int = 0, pic_type: str = "") -> Walk:
    """Walk the image at `pos` (sniffed unless `pic_type` is given)."""
    kind = pic_type or sniff(buf, pos)
    walker = _WALKERS.get(kind)
    if walker is None:
        return Walk(kind).cut_short(pos, "not a JPEG, PNG, GIF, BMP or WebP image")
    return walker(buf, pos)


def walk_png(buf: bytes, start: int = 0) -> Walk:
    """Walk PNG chunks to just past IEND's CRC."""
    n = len(buf)
    w = Walk("png")
    pos = start + 8
    unpack = _PNG_CHUNK.unpack_from
    while pos + 8 <= n:
        length, ctype = unpack(buf, pos)
        if length > 0x7FFFFFFF or not ctype.isalpha():
            return w.cut_short(pos, f"PNG chunk at {pos} is not a chunk ({ctype!r}, length {length})")
        nxt = pos + 12 + length
        if nxt > n:
            return w.cut_short(pos)
        if ctype == b"IEND":
            w.end = nxt
            return w
        pos = nxt
    return w.cut_short(pos)


def _skip_gif_subblocks(buf: bytes, p: int) -> int:
    """Offset just past a sub-block chain's terminator, or -1 if the data ends first."""
    n = len(buf)
    while p < n:
        size = buf[p]
        if size == 0:
            return p + 1
        if size == 0xFF:
            # Encoders emit runs of full 255-byte sub-blocks; their length bytes sit 256 apart,
            # so one strided slice skips the whole run without a Python loop per block.
            col = buf[p : p + _GIF_SPAN : 256]
            p += 256 * (len(col) - len(col.lstrip(b"\xff")))
        else:
            p += size + 1
    return -1


def walk_gif(buf: bytes, start: int = 0) -> Walk:
    """Walk GIF blocks to the trailer, tolerating stray NULs and a missing trailer."""
    n = len(buf)
    w = Walk("gif")
    if start + 13 > n:
        return w.cut_short(start)
    flags = buf[start + 10]
    pos = start + 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    frames = 0
    while True:
        if pos >= n:
            if frames and pos == n:
                # Browsers and PIL accept a GIF whose trailer is missing; nothing follows it.
                w.end = n
                w.notes["missingTrailer"] = True
                return w
            return w.cut_short(min(pos, n))
        block = pos
        code = buf[pos]
        if code == 0x3B:
            w.end = pos + 1
            break
        if code == 0x21:
            pos = _skip_gif_subblocks(buf, pos + 2)
        elif code == 0x2C:
            if pos + 10 > n:
                return w.cut_short(block)
            f = buf[pos + 9]
            pos = _skip_gif_subblocks(buf, pos + 11 + ((3 << ((f & 7) + 1)) if f & 0x80 else 0))
            if pos >= 0:
                frames += 1
        elif code == 0x00:
            # Stray NULs: skipped between blocks, but browsers read a NUL run as the trailer.
            run = buf[pos : pos + 4096]
            q = pos + len(run) - len(run.lstrip(b"\x00"))
            if q < n and buf[q] in (0x21, 0x2C, 0x3B) and q - pos < len(run):
                w.notes["strayNulBytes"] = w.notes.get("strayNulBytes", 0) + (q - pos)
                pos = q
                continue
            w.end = pos
            w.notes["nulAsTrailer"] = True
            break
        elif frames:
            # After a complete frame an unparseable block ends the image; the rest is a tail.
            w.end = pos
            w.notes["unparsedBlockAt"] = pos
            break
        else:
            return w.cut_short(pos, f"GIF block at {pos} has unknown introducer 0x{code:02X}")
        if pos < 0:
            return w.cut_short(block)
    w.notes["frames"] = frames
    return w


def walk_bmp(buf: bytes, start: int = 0) -> Walk:
    """BMP end from the pixel-array geometry and embedded profile; bfSize only when plausible."""
    n = len(buf)
    w = Walk("bmp")
    if start + 26 > n:
        return w.cut_short(start)
    bf_size, off_bits, info = struct.unpack_from("<I4xII", buf, start + 2)
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
        width, height, _planes, bpp, compression, size_image = struct.unpack_from(
            "<iiHHII", buf, start + 18
        )
    height = abs(height)
    if width <= 0 or height == 0 or bpp not in _BMP_BPP or off_bits < 14 + info:
        return w.cut_short(start, f"BMP header is inconsistent ({width}x{height}, {bpp} bpp)")
    if compression in _BMP_UNCOMPRESSED:
        computed = start + off_bits + ((bpp * width + 31) // 32) * 4 * height
        if size_image and computed < start + off_bits + size_image <= computed + _BMP_SLACK:
            computed = start + off_bits + size_image
    elif size_image:
        computed = start + off_bits + size_image
    else:
        computed = 0
    if info >= 124 and start + 14 + 124 <= n:
        cs_type, = struct.unpack_from("<I", buf, start + 14 + 56)
        prof_off, prof_size = struct.unpack_from("<II", buf, start + 14 + 112)
        if cs_type == _BMP_PROFILE_EMBEDDED and prof_size:
            # The profile may sit after the pixels (rgb24prof.bmp): it still belongs to the image.
            computed = max(computed, start + 14 + prof_off + prof_size)
            w.notes["iccProfile"] = prof_size
    declared = start + bf_size
    if not computed:
        # RLE without biSizeImage: bfSize is all there is.
        computed = declared
    elif computed < declared <= computed + _BMP_SLACK:
        computed = declared
    elif declared != computed:
        w.notes["bfSizeIgnored"] = bf_size
    if computed > n:
        return w.cut_short(min(start + off_bits, n))
    w.end = computed
    return w


def walk_webp(buf: bytes, start: int = 0) -> Walk:
    """WebP end from the RIFF size (padded to even), cross-checked by a chunk walk."""
    n = len(buf)
    w = Walk("webp")
    (size,) = struct.unpack_from("<I", buf, start + 4)
    if size < 4:
        return w.cut_short(start, f"RIFF size {size} is too small for WebP")
    end = start + 8 + size + (size & 1)
    p = start + 12
    limit = min(end, n)
    while p + 8 <= limit:
        (csize,) = struct.unpack_from("<I", buf, p + 4)
        if p + 8 + csize > limit:
            break
        p += 8 + csize + (csize & 1)
    if end > n:
        return w.cut_short(min(p, n))
    if p != end:
        w.notes["chunksEndAt"] = p
    w.end = end
    return w


_WALKERS = {"jpeg": walk_jpeg, "png": walk_png, "gif": walk_gif, "bmp": walk_bmp, "webp": walk_webp}
