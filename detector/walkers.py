"""Structural walkers for PNG, GIF and WebP, plus format sniffing and dispatch (JPEG, BMP: own modules).

Each walker follows the container's own lengths to the logical end; none searches for a footer.
"""

from __future__ import annotations

import struct
from typing import Tuple

from . import mpegts
from .bmp import is_bmp, walk_bmp
from .jpeg import walk_jpeg
from .model import Walk

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_CHUNK = struct.Struct(">I4s")
# Chunk types of the WebP container (RFC 9649 section 2.7).
_WEBP_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "})
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
    if is_bmp(buf, pos):
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


def walk_webp(buf: bytes, start: int = 0) -> Walk:
    """WebP end from the RIFF size (padded to even), cross-checked by a chunk walk.

    WebP chunks that go on past the RIFF size and tile the rest of the file are believed."""
    n = len(buf)
    w = Walk("webp")
    (size,) = struct.unpack_from("<I", buf, start + 4)
    if size < 4:
        return w.cut_short(start, f"RIFF size {size} is too small for WebP")
    end = start + 8 + size + (size & 1)
    p = _webp_chunks(buf, start + 12, min(end, n))[0]
    if p == end < n:
        # A tool appended metadata chunks but left the RIFF size alone; a TS run is never metadata.
        tiled, known = _webp_chunks(buf, p, n)
        if tiled in (n, n + 1) and known and mpegts.scan(buf, p, n) is None:
            w.notes["riffSizeIgnored"] = size
            end = n
    if end == n + 1 and size & 1:
        # The final pad byte is missing; decoders do not need it.
        w.notes["missingPadByte"] = True
        end = n
    p = min(p, end)
    if end > n:
        return w.cut_short(p)
    if p != end:
        w.notes["chunksEndAt"] = p
    w.end = end
    return w


def _webp_chunks(buf: bytes, p: int, limit: int) -> Tuple[int, bool]:
    """Where the chunk walk from `p` stops (past `limit` only by a missing pad byte), and if every chunk is WebP's."""
    known = True
    while p + 8 <= limit:
        fourcc = buf[p : p + 4]
        (csize,) = struct.unpack_from("<I", buf, p + 4)
        if p + 8 + csize > limit:
            break
        known = known and fourcc in _WEBP_CHUNKS
        p += 8 + csize + (csize & 1)
    return p, known


def _walk_bmp(buf: bytes, start: int = 0) -> Walk:
    return walk_bmp(buf, start, _walk_embedded)


def _walk_embedded(buf: bytes, pos: int) -> Walk:
    """The JPEG or PNG a BI_JPEG/BI_PNG bitmap holds; anything else (another BMP) is not walked."""
    kind = sniff(buf, pos)
    return walk(buf, pos, kind) if kind in ("jpeg", "png") else Walk(kind)


_WALKERS = {"jpeg": walk_jpeg, "png": walk_png, "gif": walk_gif, "bmp": _walk_bmp, "webp": walk_webp}
