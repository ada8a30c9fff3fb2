"""Which canonical exception reason a carrier's code means: the one table.

X12 1651 shipment status reason codes (the `reason_code` of `shipment.delayed`) and the
X12 214 status codes that record an `exception` milestone map to `ExceptionReason`;
customers and staff read the reason in words, never the raw code.
"""

from __future__ import annotations

from visibility.models import ExceptionReason

R = ExceptionReason

# X12 1651 (AT7-02 / AT7-04) status reason codes.
REASON_CODES: dict[str, ExceptionReason] = {
    "AO": R.WEATHER,  # weather or natural disaster related
    "AY": R.WEATHER,  # natural disaster related
    "BE": R.WEATHER,  # road conditions
    "AI": R.MECHANICAL,  # mechanical breakdown
    "AF": R.MECHANICAL,  # accident
    "BR": R.MECHANICAL,  # train derailment
    "AQ": R.RECIPIENT_UNAVAILABLE,  # recipient unavailable, delivery delayed
    "A1": R.RECIPIENT_UNAVAILABLE,  # missed delivery
    "B1": R.RECIPIENT_UNAVAILABLE,  # consignee closed
    "AN": R.RECIPIENT_UNAVAILABLE,  # holiday, closed
    "C4": R.RECIPIENT_UNAVAILABLE,  # customer vacation
    "AT": R.RECIPIENT_UNAVAILABLE,  # unable to contact recipient
    "BS": R.REFUSED,  # refused by customer
    "AK": R.DAMAGED,  # damaged, rewrapped in hub
    "A2": R.ADDRESS,  # incorrect address
    "A5": R.ADDRESS,  # unable to locate
    "A6": R.ADDRESS,  # address corrected, delivery attempted
    "CA": R.CUSTOMS,  # customs (import or export)
    "AS": R.CUSTOMS,  # hold due to customs documentation problems
    "AR": R.CUSTOMS,  # improper international paperwork
    "BD": R.CUSTOMS,  # border clearance
    "AP": R.CUSTOMS,  # awaiting export
    "F1": R.CUSTOMS,  # non-express clearance delay
    "BM": R.CAPACITY,  # flatcar shortage
    "D2": R.CAPACITY,  # driver not available
    "P4": R.CAPACITY,  # held for full carrier load
    "T1": R.CAPACITY,  # tractor with sleeper car not available
    "T2": R.CAPACITY,  # tractor, conventional, not available
    "T3": R.CAPACITY,  # trailer class not available
    "T5": R.CAPACITY,  # trailer class not available
    "T6": R.CAPACITY,  # trailer volume not available
}

# X12 214 status codes (AT7-01) that record an `exception` milestone.
EXCEPTION_STATUS_CODES: dict[str, ExceptionReason] = {
    "A7": R.REFUSED,  # refused by consignee
    "A9": R.DAMAGED,  # shipment damaged
}


def reason_for_delay(code: str) -> ExceptionReason:
    return REASON_CODES.get(code.upper(), R.OTHER)


def reason_for_exception_milestone(code: str) -> ExceptionReason:
    return EXCEPTION_STATUS_CODES.get(code.upper(), R.OTHER)
