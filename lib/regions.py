"""The COS regions a bucket can live in, and the nearest valid name for a typo."""
from __future__ import annotations

from typing import Optional

# Public-cloud COS regions, the union of what Tencent publishes (read 2026-12-01). Sources:
# - COS 地域和访问域名, https://cloud.tencent.com/document/product/436/6224 (the authoritative table; its page
#   could not be fetched from here, so each name below is also found in one of the next two sources);
# - cos-python-sdk-v5 qcloud_cos/cos_comm.py format_region (maps the v4 names to ap-shanghai, ap-guangzhou,
#   ap-beijing, ap-beijing-1, ap-chengdu, ap-singapore, ap-hongkong, na-toronto, eu-frankfurt) and
#   cos-go-sdk-v5 cos.go (ap-beijing-1, ap-beijing, ap-shanghai, ap-guangzhou);
# - the region pickers of Tencent's COS console and tools (the -fsi finance regions, ap-nanjing, ap-jakarta, …).
# Where they disagree every published name is accepted: a region missing here would refuse a real bucket.
COS_REGIONS = (
    "ap-beijing-1", "ap-beijing", "ap-nanjing", "ap-shanghai", "ap-guangzhou", "ap-chengdu", "ap-chongqing",
    "ap-shenzhen-fsi", "ap-shanghai-fsi", "ap-beijing-fsi",
    "ap-hongkong", "ap-singapore", "ap-jakarta", "ap-seoul", "ap-bangkok", "ap-tokyo", "ap-mumbai",
    "me-saudi-arabia",
    "na-siliconvalley", "na-ashburn", "na-toronto", "sa-saopaulo",
    "eu-frankfurt", "eu-moscow",
)
_KNOWN = frozenset(COS_REGIONS)


def is_cos_region(name: str) -> bool:
    return name in _KNOWN


def nearest_region(name: str) -> Optional[str]:
    """The known region closest in spelling to `name`, or None when nothing is close."""
    import difflib  # only a bad setting pays for it, not every cold start

    matches = difflib.get_close_matches(name.strip().lower(), COS_REGIONS, n=1, cutoff=0.6)
    return matches[0] if matches else None
