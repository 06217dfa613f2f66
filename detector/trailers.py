"""Known metadata trailers, recognised from the end of the file backwards as ExifTool does.

A trailer counts only when its own length fields lead exactly from its start to where the
next trailer (or the end of file) begins; a declared region holding an MPEG-TS stream never counts.
"""

from __future__ import annotations

import re
import struct
from typing import Callable, List, Optional, Tuple

from . import mpegts
from .walkers import sniff

_BOX_TYPE_CHARS = bytes(range(0x20, 0x7F)) + b"\xa9"
_CANON = b"CANON OPTIONAL DATA\x00"
_ITEM_SPLIT = re.compile(rb"G?Container:Item\b")
_ITEM_MIME = re.compile(rb"Mime(?:=\"|>)([^\"<]+)")
_ITEM_LENGTH = re.compile(rb"Length(?:=\"|>)(\d+)")
_MICRO_VIDEO = re.compile(rb"MicroVideoOffset(?:=\"|>)(\d+)")

Finder = Callable[[bytes, int, int, bytes], Optional[int]]


def mp4_spans(buf: bytes, start: int, stop: int) -> bool:
    """True when top-level MP4 boxes, starting with ftyp, tile [start, stop) exactly."""
    p = start
    while p + 8 <= stop:
        size, typ = struct.unpack_from(">I4s", buf, p)
        if p == start and typ != b"ftyp":
            return False
        if size == 1:
            if p + 16 > stop:
                return False
            (size,) = struct.unpack_from(">Q", buf, p + 8)
        elif size == 0:
            size = stop - p
        if size < 8 or typ.translate(None, _BOX_TYPE_CHARS):
            return False
        p += size
    return p == stop and p > start


def _afcp(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    foot = buf[stop - 12 : stop] if stop - 12 >= floor else b""
    if foot[:3] != b"AXS" or foot[3:4] not in (b"!", b"*"):
        return None
    (start,) = struct.unpack_from(">I" if foot[3:4] == b"!" else "<I", foot, 4)
    return start if buf.startswith(foot[:4], start) else None


def _fotostation(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    p = stop
    while p - 10 >= floor:
        _tag, size, sig = struct.unpack_from(">HII", buf, p - 10)
        if sig != 0xA1B2C3D4 or size < 10 or p - size < floor:
            break
        p -= size
    return p if p < stop else None


def _photomechanic(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    if stop - 12 < floor or buf[stop - 8 : stop] != b"cbipcbbl":
        return None
    (size,) = struct.unpack_from(">I", buf, stop - 12)
    return stop - 12 - size


def _canon_vrd(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    foot = stop - 64
    if foot < floor or not buf.startswith(_CANON, foot):
        return None
    (size,) = struct.unpack_from(">I", buf, foot + len(_CANON))
    start = stop - size - 0x5C
    return start if size > 12 and start >= 0 and buf.startswith(_CANON, start) else None


def _samsung(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    last = buf[stop - 6 : stop]
    if last == b"QDIOBS":
        block_end = stop - 2
    elif last == b"\x00\x00SEFT":
        block_end = stop
    else:
        return None
    # Blocks are chained backwards: each ends with (u32 length, 4-char type).
    while block_end - 8 >= floor:
        (length,) = struct.unpack_from("<I", buf, block_end - 8)
        typ = buf[block_end - 4 : block_end]
        if not typ.isalnum() or not 4 <= length < 0x10000 or block_end - 8 - length < floor:
            return None
        data = block_end - 8 - length
        if typ == b"SEFT":
            if not buf.startswith(b"SEFH", data) or length < 12:
                return None
            (count,) = struct.unpack_from("<I", buf, data + 8)
            if 12 + 12 * count > length:
                return None
            first = 0
            for i in range(count):
                _pad, _kind, back, size = struct.unpack_from("<HHII", buf, data + 12 + 12 * i)
                if back > data or size > back or size < 8:
                    return None
                first = max(first, back)
            return data - first
        block_end = data
    return None


def _google_container(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    items = []
    for part in _ITEM_SPLIT.split(xmp)[1:]:
        mime = _ITEM_MIME.search(part)
        if mime:
            length = _ITEM_LENGTH.search(part)
            items.append((mime.group(1), int(length.group(1)) if length else 0))
    extra = items[1:]
    if not extra or any(length <= 0 for _, length in extra):
        return None
    start = p = stop - sum(length for _, length in extra)
    if start < floor:
        return None
    for mime, length in extra:
        if mime.startswith(b"video/"):
            if not mp4_spans(buf, p, p + length):
                return None
        elif sniff(buf, p) == "unknown":
            return None
        p += length
    return start


def _google_micro_video(buf: bytes, floor: int, stop: int, xmp: bytes) -> Optional[int]:
    m = _MICRO_VIDEO.search(xmp)
    if not m:
        return None
    start = stop - int(m.group(1))
    return start if start >= floor and mp4_spans(buf, start, stop) else None


FINDERS: Tuple[Tuple[str, Finder], ...] = (
    ("AFCP", _afcp),
    ("CanonVRD", _canon_vrd),
    ("FotoStation", _fotostation),
    ("PhotoMechanic", _photomechanic),
    ("Samsung", _samsung),
    ("MotionPhoto", _google_container),
    ("MicroVideo", _google_micro_video),
)


def peel(buf: bytes, floor: int, xmp: bytes = b"") -> Tuple[int, List[str]]:
    """Where the run of known trailers ending the file starts (>= floor), and their names."""
    stop = len(buf)
    names: List[str] = []
    found = True
    while found and stop > floor:
        found = False
        for name, finder in FINDERS:
            if name in names:
                continue
            start = finder(buf, floor, stop, xmp)
            if start is None or not floor <= start < stop:
                continue
            if mpegts.scan(buf, start, stop) is not None:
                return stop, names
            names.append(name)
            stop = start
            found = True
            break
    return stop, names
