"""Every carrier format x every payload type: flagged, with Tencent's exact offsets and type."""

from __future__ import annotations

import pytest
from detector_carriers import CARRIERS, PAYLOADS

from detector import inspect_bytes

PIC_TYPES = {"png": "png", "jpeg": "jpeg", "gif": "gif", "bmp": "bmp", "webp": "webp"}


def _pic_type(carrier: str) -> str:
    return PIC_TYPES[carrier.split("-")[0]]


@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_clean_carrier_is_not_suspicious(carrier):
    image = CARRIERS[carrier]()
    result = inspect_bytes(image)
    assert result["suspicious"] is False
    assert result["picSize"] == len(image)
    assert result["picType"] == _pic_type(carrier)
    assert "suspiciousBeginByte" not in result


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("carrier", sorted(CARRIERS))
def test_payload_after_carrier_is_flagged_from_the_first_byte_after_the_image(carrier, payload):
    image = CARRIERS[carrier]()
    make, kind = PAYLOADS[payload]
    data = image + make()
    result = inspect_bytes(data)
    assert {k: v for k, v in result.items() if k != "detail"} == {
        "picSize": len(data),
        "picType": _pic_type(carrier),
        "suspicious": True,
        "suspiciousBeginByte": len(image),
        "suspiciousEndByte": len(data) - 1,
        "suspiciousSize": len(data) - len(image),
        "suspiciousType": kind,
    }
