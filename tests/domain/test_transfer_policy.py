import pytest

from acd.domain.policies import TransferPolicy, TransferRefused, normalize

POLICY = TransferPolicy(allow=("0570*", "0120*", "070*", "080*", "090*", "0467XXXXXX"),
                        departments={"shimin": "2101", "kokuho": "0467231111"})


@pytest.mark.parametrize("target,number", [
    ("0570-000-123", "0570000123"), ("0120 123 456", "0120123456"),
    ("090-1234-5678", "09012345678"), ("+81 80 1234 5678", "08012345678"),
    ("0467-23-3000", "0467233000"), ("shimin", "2101"), ("kokuho", "0467231111")])
def test_allowed_targets_resolve_to_digits(target, number):
    assert POLICY.resolve(target) == number


@pytest.mark.parametrize("target", ["0312345678", "04672330001", "110", "0990123456"])
def test_numbers_outside_the_allow_list_are_refused(target):
    with pytest.raises(TransferRefused, match="matches no allowed pattern"):
        POLICY.resolve(target)


@pytest.mark.parametrize("target", ["", "abc", "090-1234-567a", "1", "+1 555 0100"])
def test_non_numbers_are_refused(target):
    with pytest.raises(TransferRefused):
        POLICY.resolve(target)


def test_bad_patterns_are_rejected_when_configured():
    with pytest.raises(ValueError, match="transfer pattern"):
        TransferPolicy(allow=("09*0",))


def test_normalize_keeps_digits():
    assert normalize("(0467) 23-3000") == "0467233000"
