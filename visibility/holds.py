"""What a held event waits for: `HoldKey(kind, key)`, stored in the inbox as `kind:key`.

Projection holds an event whose order, shipment, invoice or account owner is missing and
names the missing piece with a HoldKey; the creation of that piece releases it
(docs/ARCHITECTURE.md, decision 3). The text form is written and read only here
(`format`, `parse`, `prefix`, `SEPARATOR` for SQL), so the inbox column, the release
statements and the health figures agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class HoldKind(StrEnum):
    ORDER = "order"
    SHIPMENT = "shipment"
    INVOICE = "invoice"
    ACCOUNT = "account"


@dataclass(frozen=True, slots=True)
class HoldKey:
    kind: HoldKind
    key: str

    SEPARATOR = ":"

    def format(self) -> str:
        return f"{self.kind}{self.SEPARATOR}{self.key}"

    @classmethod
    def parse(cls, text: str) -> HoldKey:
        kind, separator, key = text.partition(cls.SEPARATOR)
        if not separator:
            raise ValueError(f"not a hold key: {text!r}")
        return cls(HoldKind(kind), key)

    @classmethod
    def prefix(cls, kind: HoldKind) -> str:
        """The text every formatted key of `kind` starts with (for SQL prefix matches)."""
        return f"{kind}{cls.SEPARATOR}"

    @classmethod
    def order(cls, order_number: str) -> HoldKey:
        return cls(HoldKind.ORDER, order_number)

    @classmethod
    def shipment(cls, shipment_id: str) -> HoldKey:
        return cls(HoldKind.SHIPMENT, shipment_id)

    @classmethod
    def invoice(cls, invoice_number: str) -> HoldKey:
        return cls(HoldKind.INVOICE, invoice_number)

    @classmethod
    def account(cls, account_number: str) -> HoldKey:
        return cls(HoldKind.ACCOUNT, account_number)
