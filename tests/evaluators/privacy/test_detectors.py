from __future__ import annotations

import pytest

from aigc_audit.evaluators.privacy.detectors import (
    CN_RESIDENT_ID,
    EMAIL,
    IBAN,
    IPV4,
    IPV6,
    NL_BSN,
    PAYMENT_CARD,
    PHONE,
    US_SSN,
    cn_resident_id_valid,
    find_personal_data,
    iban_valid,
    luhn_valid,
    mask,
    mask_value,
    nl_bsn_valid,
)


def _cn_check(body: str) -> str:
    """An independent computation of the ISO 7064 MOD 11-2 check character: 2^(17-i) mod 11."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@pytest.mark.parametrize(("kind", "valid", "invalid"), [
    (EMAIL, "jane.doe@example.com", "jane..doe@example.com"),
    (PAYMENT_CARD, "4111 1111 1111 1111", "4111 1111 1111 1112"),
    (PAYMENT_CARD, "5500-0000-0000-0004", "5500-0000-0000-0005"),
    (IBAN, "GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 33"),
    (IBAN, "DE89370400440532013000", "DE89370400440532013001"),
    (CN_RESIDENT_ID, "11010519491231002X", "110105194912310021"),
    (US_SSN, "123-45-6789", "666-45-6789"),
    (NL_BSN, "111222333", "111222334"),
    (IPV4, "192.168.1.20", "192.168.1.256"),
    (IPV6, "2001:db8::8a2e:370:7334", "2001:db8::8a2e::7334"),
    (PHONE, "+44 20 7946 0958", "+4 12"),
])
def test_valid_values_are_found_and_failing_checksums_are_not(kind: str, valid: str, invalid: str) -> None:
    found = find_personal_data(f"contact: {valid} today")
    assert [(p.kind, p.value) for p in found] == [(kind, valid)]
    assert found[0].start == len("contact: ") and found[0].end == len("contact: ") + len(valid)
    assert find_personal_data(f"contact: {invalid} today") == []


def test_checksums_against_independent_values() -> None:
    body = "44030119900307123"
    assert cn_resident_id_valid(body + _cn_check(body))
    assert not cn_resident_id_valid(body + str((int(_cn_check(body).replace("X", "10")) + 1) % 10))
    assert not cn_resident_id_valid("11010519491331002X".replace("1331", "1332"))  # month 13
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert iban_valid("NL91 ABNA 0417 1643 00") and not iban_valid("NL91 ABNA 0417 1643 01")
    assert nl_bsn_valid("111222333") and not nl_bsn_valid("000000000")


def test_mask_keeps_the_last_four_and_the_shape() -> None:
    assert mask_value("4111 1111 1111 1111") == "**** **** **** 1111"
    assert mask_value("123") == "***"
    text = "card 4111111111111111, mail a.b@example.org, ip 10.0.0.1, nothing else 2024"
    masked = mask(text)
    assert "4111111111111111" not in masked and "a.b@example.org" not in masked
    assert "************1111" in masked and masked.endswith("nothing else 2024")
    assert mask("no personal data here") == "no personal data here"


def test_evidence_names_kind_and_span_not_the_value() -> None:
    (match,) = find_personal_data("id 11010519491231002X")
    assert match.to_dict() == {"kind": CN_RESIDENT_ID, "span": [3, 21], "masked": "**************002X"}
    assert "1101051949" not in str(match)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown personal data kind\(s\) \['passport'\]; valid kinds"):
        find_personal_data("x", ["passport"])
