"""JPEG walker: segments, entropy-coded scans and the MPF index, up to the real EOI."""

from __future__ import annotations

import re
import struct
from typing import List, Tuple

from .model import Walk

# Inside entropy-coded data only these can end a scan; FF00 (stuffing), RSTn, FF fill bytes,
# and, for JPEG-LS, FF followed by a byte < 0x80 are all data.
_SCAN_END = re.compile(rb"\xff[\xc0-\xcf\xd9-\xfe]")
_FILL = re.compile(rb"\xff+")
_XMP = b"http://ns.adobe.com/xap/1.0/\x00"
_MPF = b"MPF\x00"
_MP_ENTRY_TAG = 0xB002


def walk_jpeg(buf: bytes, start: int = 0) -> Walk:
    """Walk the JPEG at `start` to just past its EOI."""
    n = len(buf)
    w = Walk("jpeg")
    pos = start + 2
    skipped = 0
    # Bytes after the first scan starts are entropy data or headers found by searching: if the
    # walk fails, a stream hidden there (a TS with no EOI before it) is looked for from here.
    first_scan = -1
    while True:
        m = _FILL.match(buf, pos)
        if m is None:
            # Garbage where a marker belongs: resync as ExifTool does ("Skipped unknown N bytes").
            m = _SCAN_END.search(buf, pos)
            if m is None:
                return w.cut_short(pos)
            skipped += m.start() - pos
            pos = m.start()
            continue
        pos = m.end()
        if pos >= n:
            return w.cut_short(pos)
        code = buf[pos]
        pos += 1
        if code == 0xD9:
            w.end = pos
            break
        if 0xD0 <= code <= 0xD8 or code in (0x00, 0x01):
            continue
        if pos + 2 > n:
            return w.cut_short(pos)
        seg_len = (buf[pos] << 8) | buf[pos + 1]
        if seg_len < 2:
            return w.cut_short(pos, f"JPEG segment FF{code:02X} at {pos - 2} has length {seg_len}")
        data = pos + 2
        pos += seg_len
        if pos > n:
            return w.cut_short(data)
        if code == 0xE1 and buf.startswith(_XMP, data):
            w.xmp += buf[data + len(_XMP) : pos]
        elif code == 0xE2 and buf.startswith(_MPF, data):
            w.mpf = parse_mpf(buf, data + len(_MPF), pos)
        elif code == 0xDA:
            if first_scan < 0:
                first_scan = pos
                w.resume = pos
            m = _SCAN_END.search(buf, pos)
            if m is None:
                return w.cut_short(pos)
            pos = m.start()
    if skipped:
        w.notes["skippedBytes"] = skipped
    if w.mpf:
        w.notes["mpfImages"] = len(w.mpf)
    return w


def parse_mpf(buf: bytes, tiff: int, stop: int) -> List[Tuple[int, int]]:
    """Absolute (offset, size) of the non-primary images in an MPF index; [] if unreadable."""
    order = buf[tiff : tiff + 2]
    if order == b"II":
        e = "<"
    elif order == b"MM":
        e = ">"
    else:
        return []
    try:
        (ifd,) = struct.unpack_from(e + "I", buf, tiff + 4)
        p = tiff + ifd
        (count,) = struct.unpack_from(e + "H", buf, p)
        for i in range(min(count, 64)):
            tag, _typ, cnt, value = struct.unpack_from(e + "HHII", buf, p + 2 + 12 * i)
            if tag != _MP_ENTRY_TAG:
                continue
            images = []
            first = tiff + value
            if first + cnt > stop:
                return []
            for j in range(cnt // 16):
                _attr, size, off, _d1, _d2 = struct.unpack_from(e + "IIIHH", buf, first + 16 * j)
                # Offsets count from the MPF TIFF header; the primary image has offset 0.
                if off:
                    images.append((tiff + off, size))
            return images
    except struct.error:
        return []
    return []
