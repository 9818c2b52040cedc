"""Personal data in text: detectors with their checksums, and the masking of what they find.

Each detector is a pattern for candidates plus a validator, so a number that looks right but
fails its checksum (a card number failing Luhn, an IBAN failing mod-97, an identity number with a
wrong check digit) is not reported. :func:`find_personal_data` returns every match, ordered by
position, overlaps resolved in favour of the earlier detector in :data:`KINDS`; :func:`mask`
replaces each with its masked form so that logs and responses can quote a text safely.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

EMAIL, PHONE, PAYMENT_CARD, IBAN, IPV4, IPV6 = "email", "phone", "payment_card", "iban", "ipv4", "ipv6"
CN_RESIDENT_ID, US_SSN, NL_BSN = "cn_resident_id", "us_ssn", "nl_bsn"
# Characters of a value kept unmasked at its end.
KEEP_LAST = 4


@dataclass(frozen=True, order=True)
class PersonalData:
    """One match: ``kind``, character ``span`` [start, end) in the text, and the matched ``value``.
    ``str()`` shows the masked value only."""

    start: int
    end: int
    kind: str
    value: str

    @property
    def masked(self) -> str:
        return mask_value(self.value)

    def __str__(self) -> str:
        return f"{self.kind} at [{self.start}, {self.end}): {self.masked}"

    def to_dict(self) -> dict:
        """Evidence without the value itself: kind, span and masked value."""
        return {"kind": self.kind, "span": [self.start, self.end], "masked": self.masked}


def mask_value(value: str, keep_last: int = KEEP_LAST) -> str:
    """Every letter and digit but the last ``keep_last`` replaced by ``*``; separators kept, so
    the shape stays readable. Values of ``keep_last`` characters or fewer are masked entirely."""
    significant = [i for i, c in enumerate(value) if c.isalnum()]
    keep = set(significant[-keep_last:]) if len(significant) > keep_last else set()
    return "".join(c if (i in keep or not c.isalnum()) else "*" for i, c in enumerate(value))


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in _digits(number)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(digits) >= 2 and total % 10 == 0


def iban_valid(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact.isalnum():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def cn_resident_id_valid(text: str) -> bool:
    """GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or X), with a
    plausible birth date in positions 7-14."""
    if not re.fullmatch(r"\d{17}[\dXx]", text):
        return False
    month, day = int(text[10:12]), int(text[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31 and 1900 <= int(text[6:10]) <= 2100):
        return False
    check = (12 - sum(int(c) * w for c, w in zip(text, _CN_WEIGHTS)) % 11) % 11
    return text[17].upper() == ("X" if check == 10 else str(check))


def us_ssn_valid(text: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    area, group, serial = text.split("-")
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def nl_bsn_valid(text: str) -> bool:
    """The Dutch citizen service number's 11-check: weights 9..2 and -1, sum divisible by 11."""
    digits = [int(c) for c in text]
    if len(digits) != 9 or not any(digits):
        return False
    return (sum(d * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2, -1)))) % 11 == 0


def _ipv4_valid(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _ipv6_valid(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return text.count(":") >= 2


def _phone_valid(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15


def _card_valid(text: str) -> bool:
    return 13 <= len(_digits(text)) <= 19 and luhn_valid(text)


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]


DETECTORS: tuple[Detector, ...] = (
    Detector(EMAIL, re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
             lambda s: ".." not in s),
    Detector(IBAN, re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), iban_valid),
    Detector(CN_RESIDENT_ID, re.compile(r"(?<!\d)\d{17}[\dXx](?![\dA-Za-z])"), cn_resident_id_valid),
    Detector(PAYMENT_CARD, re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)"), _card_valid),
    Detector(US_SSN, re.compile(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"), us_ssn_valid),
    Detector(NL_BSN, re.compile(r"(?<![\d.-])\d{9}(?![\d-])"), nl_bsn_valid),
    Detector(IPV4, re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), _ipv4_valid),
    Detector(IPV6, re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6_valid),
    # International numbers with their +country code, or the North American (415) 555-0132 and
    # 415-555-0132 shapes; bare digit runs are left to the checksummed kinds above.
    Detector(PHONE, re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(?\d{1,4}\)?[ .-]?){1,4}\d{2,4}"
                               r"|\(\d{3}\) ?\d{3}-\d{4}|\d{3}[.-]\d{3}[.-]\d{4})(?!\d)"), _phone_valid),
)
KINDS = tuple(d.kind for d in DETECTORS)


def find_personal_data(text: str, kinds: Iterable[str] | None = None) -> list[PersonalData]:
    """Every validated match of the detectors of ``kinds`` (default: all), ordered by position;
    a span already claimed by an earlier detector is not reported again by a later one."""
    wanted = set(KINDS if kinds is None else kinds)
    unknown = wanted - set(KINDS)
    if unknown:
        raise ValueError(f"unknown personal data kind(s) {sorted(unknown)}; valid kinds are {list(KINDS)}")
    found: list[PersonalData] = []
    taken: list[tuple[int, int]] = []
    for detector in DETECTORS:
        if detector.kind not in wanted:
            continue
        for match in detector.pattern.finditer(text):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken) or not detector.valid(match.group()):
                continue
            taken.append((start, end))
            found.append(PersonalData(start, end, detector.kind, match.group()))
    return sorted(found)


def mask(text: str, kinds: Iterable[str] | None = None) -> str:
    """``text`` with every personal data match replaced by its masked form."""
    out, last = [], 0
    for pd in find_personal_data(text, kinds):
        out += [text[last:pd.start], pd.masked]
        last = pd.end
    return "".join(out) + text[last:]
