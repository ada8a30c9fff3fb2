"""Hold keys: the one text form of what a held event waits for."""

from __future__ import annotations

import pytest

from visibility.holds import HoldKey, HoldKind


@pytest.mark.parametrize(
    ("hold", "text"),
    [
        (HoldKey.order("SO-1"), "order:SO-1"),
        (HoldKey.shipment("S-1"), "shipment:S-1"),
        (HoldKey.invoice("I-1"), "invoice:I-1"),
        (HoldKey.account("C-1"), "account:C-1"),
        (HoldKey.order("SO:2024:7"), "order:SO:2024:7"),
    ],
)
def test_a_hold_key_formats_and_parses_back(hold: HoldKey, text: str):
    assert hold.format() == text
    assert HoldKey.parse(text) == hold
    assert text.startswith(HoldKey.prefix(hold.kind))


@pytest.mark.parametrize("text", ["", "SO-1", "pallet:P-1"])
def test_text_that_is_no_hold_key_is_refused(text: str):
    with pytest.raises(ValueError):
        HoldKey.parse(text)


def test_every_kind_has_a_constructor():
    assert {getattr(HoldKey, kind.value)("x").kind for kind in HoldKind} == set(HoldKind)
