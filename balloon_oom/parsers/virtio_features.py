"""Virtio feature bits: names, the sysfs ``features`` string, debugfs ``device_features``.

The bit-name table and :func:`decode_bits` have **no dependencies** (not even
the rest of this package) so drgn scripts can import this module alone.

Sysfs ``/sys/bus/virtio/drivers/virtio_balloon/virtioN/features`` lists the
*negotiated* features as a bit string, character *i* = bit *i* (bit 0 first).
``drivers/virtio/virtio.c`` ``features_show()`` loops over
``sizeof(dev->features) * 8`` = 64 bits; since Paolo Abeni's "virtio:
introduce extended features" (v6.17) over ``VIRTIO_FEATURES_MAX`` = 128 bits.

>>> decode_string("0110000000000000000000000000010010000000100000000000000000000000")
['STATS_VQ', 'DEFLATE_ON_OOM', 'RING_EVENT_IDX', 'VERSION_1', 'RING_RESET']
>>> decode_bits(0x10120000006) == decode_string(
...     "0110000000000000000000000000010010000000100000000000000000000000")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

if TYPE_CHECKING:  # pragma: no cover - typing only; keeps the import dependency-free
    from balloon_oom.model import Evidence

__all__ = [
    "BALLOON_BITS",
    "DEFLATE_ON_OOM",
    "FEATURE_MEANINGS",
    "FEATURE_NAMES",
    "TRANSPORT_BITS",
    "VirtioFeatures",
    "bit_kind",
    "bits_of_int",
    "decode_bits",
    "decode_string",
    "describe_bit",
    "explain_features",
    "parse_device_features",
    "parse_feature_arg",
    "parse_features",
]

# include/uapi/linux/virtio_balloon.h
MUST_TELL_HOST = 0
STATS_VQ = 1
DEFLATE_ON_OOM = 2
FREE_PAGE_HINT = 3  # v4.20
PAGE_POISON = 4  # v4.20
REPORTING = 5  # v5.7

#: Device-specific bits of the balloon device (VIRTIO_BALLOON_F_*).
BALLOON_BITS: Dict[int, str] = {
    MUST_TELL_HOST: "MUST_TELL_HOST",
    STATS_VQ: "STATS_VQ",
    DEFLATE_ON_OOM: "DEFLATE_ON_OOM",
    FREE_PAGE_HINT: "FREE_PAGE_HINT",
    PAGE_POISON: "PAGE_POISON",
    REPORTING: "REPORTING",
}

#: Transport bits (include/uapi/linux/virtio_config.h, virtio_ring.h).
TRANSPORT_BITS: Dict[int, str] = {
    24: "NOTIFY_ON_EMPTY",
    27: "ANY_LAYOUT",
    28: "RING_INDIRECT_DESC",
    29: "RING_EVENT_IDX",
    30: "BAD_FEATURE",
    32: "VERSION_1",
    33: "ACCESS_PLATFORM",
    34: "RING_PACKED",
    35: "IN_ORDER",
    36: "ORDER_PLATFORM",
    37: "SR_IOV",
    38: "NOTIFICATION_DATA",
    39: "NOTIF_CONFIG_DATA",
    40: "RING_RESET",
    41: "ADMIN_VQ",
}

#: Every named bit of a balloon device.
FEATURE_NAMES: Dict[int, str] = {**BALLOON_BITS, **TRANSPORT_BITS}

#: One-line meaning per named bit (for ``balloon-oom features STRING``).
FEATURE_MEANINGS: Dict[int, str] = {
    0: "host must be told before the guest reuses a deflated page",
    1: "guest sends memory statistics on the stats virtqueue",
    2: "balloon deflates on guest OOM; ballooned pages stay in MemTotal (counted as used)",
    3: "free page hinting virtqueue (live-migration optimisation)",
    4: "guest tells the host it poisons free pages",
    5: "free page reporting virtqueue (returns free pages to the host)",
    24: "legacy: notify even when the available ring is empty",
    27: "legacy: any descriptor layout accepted",
    28: "indirect descriptors",
    29: "used/available event index suppression",
    30: "legacy: never offered by a device; a driver that acks it is broken",
    32: "virtio 1.0 (modern) device",
    33: "device DMA goes through the platform IOMMU",
    34: "packed virtqueue layout",
    35: "buffers used in the order made available",
    36: "platform-specific memory ordering",
    37: "single root I/O virtualisation",
    38: "extra data in driver notifications",
    39: "driver notification data from config space",
    40: "individual virtqueue reset",
    41: "administration virtqueue",
}

_UNNAMED_MEANING = "not a balloon or transport bit this tool knows"


def bit_kind(bit: int) -> str:
    """What the virtio spec reserves a feature bit for (virtio 1.3, 2.2 "Feature Bits").

    >>> [bit_kind(b) for b in (2, 30, 45, 60, 130)]
    ['device', 'transport', 'reserved', 'device', 'reserved']
    """
    if 0 <= bit <= 23 or 50 <= bit <= 127:
        return "device"
    if 24 <= bit <= 41:
        return "transport"
    return "reserved"


def describe_bit(bit: int) -> Tuple[str, str, str]:
    """``(name, kind, meaning)`` of one bit; unnamed bits say which range they are in.

    Bit 7, set in a real Firecracker / Linux 6.18 guest's negotiated features, has no
    name in the virtio spec nor in the kernel's uapi ``virtio_balloon.h`` /
    ``virtio_config.h`` (balloon bits stop at 5, REPORTING).

    >>> describe_bit(7)
    ('bit 7', 'device', 'balloon device-type bit with no name in the virtio spec or the kernel headers')
    """
    kind = bit_kind(bit)
    if bit in FEATURE_NAMES:
        return FEATURE_NAMES[bit], kind, FEATURE_MEANINGS.get(bit, _UNNAMED_MEANING)
    meaning = {
        "device": "balloon device-type bit with no name in the virtio spec or the kernel headers",
        "transport": "transport bit (24-41) with no name in the virtio spec or the kernel headers",
        "reserved": "reserved by the virtio spec for future extensions (42-49, 128 and up)",
    }[kind]
    return f"bit {bit}", kind, meaning


def parse_feature_arg(arg: str) -> Tuple[List[int], str]:
    """Set bits of what a user typed: a 64/128-character sysfs string, ``0x25``, or ``37``.

    Returns ``(bits, form)``; ``form`` is ``string``, ``hex`` or ``decimal``.  A bit
    string of 64 or 128 characters is never read as a number.

    >>> parse_feature_arg("0x25"), parse_feature_arg("37")
    (([0, 2, 5], 'hex'), ([0, 2, 5], 'decimal'))
    >>> parse_feature_arg("0110" + "0" * 60)
    ([1, 2], 'string')
    """
    text = arg.strip()
    if len(text) in (64, 128) and set(text) <= {"0", "1"}:
        return _string_bits(text), "string"
    low = text.lower()
    if low.startswith("0x") and len(low) > 2 and all(c in "0123456789abcdef" for c in low[2:]):
        return bits_of_int(int(low, 16)), "hex"
    if text and set(text) <= {"0", "1"} and (len(text) >= 16 or text.startswith("0")) \
            and text != "0":
        return _string_bits(text), "string"  # a bit string of the wrong length: say so
    if text.isascii() and text.isdigit():
        return bits_of_int(int(text)), "decimal"
    raise ValueError(f"{arg[:80]!r} is neither a 64/128-character bit string, a hex value "
                     "(0x25) nor a decimal")


def _name(bit: int) -> str:
    return FEATURE_NAMES.get(bit, f"bit {bit}")


def bits_of_int(value: int) -> List[int]:
    """Set bit numbers of ``value``, lowest first.

    >>> bits_of_int(0x10120000002)
    [1, 29, 32, 40]
    """
    if value < 0:
        raise ValueError("feature value must not be negative")
    out = []
    bit = 0
    while value:
        if value & 1:
            out.append(bit)
        value >>= 1
        bit += 1
    return out


def decode_bits(value: int) -> List[str]:
    """Names of the set bits of a ``u64`` (or wider) feature value, lowest first.

    >>> decode_bits(0xa6)
    ['STATS_VQ', 'DEFLATE_ON_OOM', 'REPORTING', 'bit 7']
    """
    return [_name(b) for b in bits_of_int(value)]


def _string_bits(s: str) -> List[int]:
    """Bit numbers set in a sysfs features string; ValueError explains a bad one."""
    s = s.rstrip("\r\n")
    if len(s) not in (64, 128):
        raise ValueError(
            f"features string has {len(s)} characters; sysfs prints 64 (up to v6.16) or 128 (v6.17+)"
        )
    bad = sorted({c for c in s if c not in "01"})
    if bad:
        raise ValueError(f"features string may hold only '0' and '1', found {''.join(bad)!r}")
    return [i for i, c in enumerate(s) if c == "1"]


def decode_string(s: str) -> List[str]:
    """Names of the bits set in a sysfs ``features`` string (64 or 128 characters).

    Raises :class:`ValueError` on a wrong length or a character other than 0/1.

    >>> decode_string("01" + "0" * 62)
    ['STATS_VQ']
    """
    return [_name(b) for b in _string_bits(s)]


def explain_features(s: str) -> List[Tuple[int, str, str]]:
    """``(bit, name, meaning)`` for each set bit of a features string (CLI helper).

    >>> explain_features("0010" + "0" * 60)
    [(2, 'DEFLATE_ON_OOM', 'balloon deflates on guest OOM; ballooned pages stay in MemTotal (counted as used)')]
    """
    return [(b, _name(b), FEATURE_MEANINGS.get(b, _UNNAMED_MEANING)) for b in _string_bits(s.strip())]


# --- typed parsers (these may use the package) -----------------------------


@dataclass
class VirtioFeatures:
    """Feature bits read from one file.

    ``negotiated`` is True for the sysfs ``features`` file, False for the
    debugfs ``device_features`` file (what the device offers).
    """

    bits: List[int]
    negotiated: bool
    width: Optional[int] = None
    evidence: Optional["Evidence"] = None

    @property
    def names(self) -> List[str]:
        return [_name(b) for b in self.bits]

    @property
    def value(self) -> int:
        return sum(1 << b for b in self.bits)

    @property
    def deflate_on_oom(self) -> bool:
        return DEFLATE_ON_OOM in self.bits

    def has(self, bit: int) -> bool:
        return bit in self.bits


def parse_features(text: str, path: str) -> VirtioFeatures:
    """Parse a sysfs virtio ``features`` file (one 64- or 128-character line).

    >>> f = parse_features("0110000000000000000000000000010010000000100000000000000000000000\\n", "features")
    >>> f.deflate_on_oom, hex(f.value), f.width
    (True, '0x10120000006', 64)
    """
    from balloon_oom.errors import ParseError
    from balloon_oom.model import Evidence

    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    content = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip()]
    if not content:
        raise ParseError(path, None, "empty features file")
    if len(content) > 1:
        raise ParseError(path, content[1][0], "features file has more than one line")
    lineno, line = content[0]
    try:
        bits = _string_bits(line.strip())
    except ValueError as exc:
        raise ParseError(path, lineno, str(exc)) from None
    return VirtioFeatures(
        bits=bits, negotiated=True, width=len(line.strip()), evidence=Evidence(path, line=lineno, text=line.strip())
    )


def parse_device_features(text: str, path: str) -> VirtioFeatures:
    """Parse debugfs ``virtio/<dev>/device_features``: one decimal bit number per line.

    These are the bits the *device offers*, not the negotiated set.

    >>> parse_device_features("1\\n2\\n32\\n", "device_features").names
    ['STATS_VQ', 'DEFLATE_ON_OOM', 'VERSION_1']
    """
    from balloon_oom.errors import ParseError
    from balloon_oom.model import Evidence

    bits: List[int] = []
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if not line:
            continue
        if not (line.isascii() and line.isdigit()):
            raise ParseError(path, lineno, f"expected a feature bit number, got {line!r}")
        bits.append(int(line))
    if not bits:
        raise ParseError(path, None, "empty device_features file")
    return VirtioFeatures(
        bits=sorted(set(bits)),
        negotiated=False,
        evidence=Evidence(path, line=1, text=" ".join(str(b) for b in bits)),
    )
