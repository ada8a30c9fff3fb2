"""The contract's default X12 214 (AT7-01) mapping, seeded into StatusCodeMapping."""

DEFAULT_STATUS_CODES = [
    ("X3", "Arrived at pick-up location", "stored", ""),
    ("AF", "Carrier departed pick-up location with shipment", "milestone", "departed_origin"),
    ("CP", "Completed loading at pick-up", "milestone", "picked_up"),
    ("X6", "En route to delivery location", "milestone", "in_transit"),
    ("X4", "Arrived at terminal", "milestone", "arrived_hub"),
    ("P1", "Departed terminal", "milestone", "departed_hub"),
    ("AH", "Attempted delivery", "milestone", "delivery_attempted"),
    ("X1", "Arrived at delivery location", "stored", ""),
    ("D1", "Completed unloading at delivery location", "milestone", "delivered"),
    ("AG", "Estimated delivery", "eta", ""),
    ("SD", "Shipment delayed", "delay", ""),
    ("A7", "Refused by consignee", "milestone", "exception"),
    ("A9", "Shipment damaged", "milestone", "exception"),
    ("CA", "Shipment cancelled", "milestone", "exception"),
]


def seed_default_status_codes(mapping_model) -> None:
    """Insert the default mappings that are missing; admins' edits are left alone."""
    for code, description, action, milestone in DEFAULT_STATUS_CODES:
        mapping_model.objects.get_or_create(
            code=code,
            defaults={"description": description, "action": action, "milestone": milestone},
        )
