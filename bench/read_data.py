"""`make bench-data` (`python -m bench.read_data`): the read models at production size.

Fills the database `portal_bench_reads` (env BENCH_READS_DATABASE) with BENCH_SHIPMENTS
shipments (1,000,000), their orders (with lines), stops, ~10 history facts each, loads,
tracking numbers, invoices for ~30% of the orders and every search reference, across 50
tenants. Rows are what the live projection would have written (visibility/services/
projection/, derivation.py, references.py): derived status, ETA, delayed, at risk and
last_event_at are computed here by the same rules, references are normalized by the
same function. The big tables are loaded with PostgreSQL COPY after dropping their
secondary indexes and constraints, which are rebuilt afterwards, then VACUUM ANALYZE.

Deterministic: the same BENCH_SEED (1) and size give the same rows.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATABASE = os.environ.get("BENCH_READS_DATABASE", "portal_bench_reads")
SERVER_URL = os.environ.get("BENCH_READS_SERVER", "postgresql://postgres@127.0.0.1:5432")
PASSWORD = "bench-reads-password"
TENANTS = 50
NOW = datetime(2026, 11, 20, tzinfo=UTC)
CHUNK_ORDERS = 5_000

BIG_TABLES = [
    "visibility_order",
    "visibility_orderline",
    "visibility_shipment",
    "visibility_shipmentorder",
    "visibility_shipmentaccount",
    "visibility_shipmentstop",
    "visibility_shipmentevent",
    "visibility_invoice",
    "visibility_invoiceline",
    "visibility_reference",
]

COLUMNS = {
    "visibility_order": (
        "id",
        "snapshot_sequence",
        "snapshot_occurred_at",
        "snapshot_event_key",
        "order_number",
        "customer_po",
        "order_date",
        "requested_delivery_date",
        "ship_from",
        "ship_to",
        "status",
        "cancelled_at",
        "cancel_reason",
        "last_event_at",
        "customer_account_id",
        "released_by",
    ),
    "visibility_orderline": (
        "id",
        "line_number",
        "sku",
        "description",
        "quantity",
        "uom",
        "weight_kg",
        "order_id",
    ),
    "visibility_shipment": (
        "id",
        "snapshot_sequence",
        "snapshot_occurred_at",
        "snapshot_event_key",
        "shipment_id",
        "load_id",
        "carrier_scac",
        "carrier_name",
        "mode",
        "service_level",
        "tracking_numbers",
        "origin",
        "destination",
        "planned_pickup_at",
        "planned_delivery_at",
        "tender_accepted_at",
        "carrier_occurred_at",
        "carrier_event_key",
        "status",
        "status_at",
        "eta",
        "eta_window_start",
        "eta_window_end",
        "eta_basis",
        "promised_date",
        "delayed",
        "at_risk",
        "delivered_at",
        "received_by",
        "last_event_at",
        "customer_account_id",
    ),
    "visibility_shipmentorder": ("id", "line_numbers", "order_id", "shipment_id"),
    "visibility_shipmentaccount": ("id", "customer_account_id", "shipment_id", "last_event_at"),
    "visibility_shipmentstop": (
        "id",
        "sequence",
        "stop_type",
        "location",
        "planned_arrival",
        "shipment_id",
    ),
    "visibility_shipmentevent": (
        "id",
        "event_key",
        "kind",
        "occurred_at",
        "milestone",
        "carrier_status_code",
        "location",
        "stop_sequence",
        "remarks",
        "received_by",
        "eta",
        "eta_window_start",
        "eta_window_end",
        "eta_basis",
        "reason_code",
        "reason_text",
        "shipment_id",
    ),
    "visibility_invoice": (
        "id",
        "snapshot_sequence",
        "snapshot_occurred_at",
        "snapshot_event_key",
        "invoice_number",
        "order_numbers",
        "shipment_ids",
        "issue_date",
        "due_date",
        "currency",
        "total_amount",
        "paid_at",
        "paid_amount",
        "payment_event_key",
        "customer_account_id",
    ),
    "visibility_invoiceline": ("id", "position", "description", "amount", "invoice_id"),
    "visibility_reference": (
        "id",
        "kind",
        "object_key",
        "reference_type",
        "value",
        "normalized",
        "customer_account_id",
        "invoice_id",
        "order_id",
        "shipment_id",
    ),
}

CITIES = [
    ("Chicago", "IL"),
    ("Dallas", "TX"),
    ("Atlanta", "GA"),
    ("Memphis", "TN"),
    ("Columbus", "OH"),
    ("Reno", "NV"),
    ("Newark", "NJ"),
    ("Denver", "CO"),
    ("Phoenix", "AZ"),
    ("Seattle", "WA"),
    ("Louisville", "KY"),
    ("Kansas City", "MO"),
    ("Indianapolis", "IN"),
    ("Charlotte", "NC"),
    ("Salt Lake City", "UT"),
    ("Ontario", "CA"),
]
LOCATIONS = [
    f'{{"name": "{city} DC {n}", "city": "{city}", "state": "{state}", "country": "US"}}'
    for city, state in CITIES
    for n in range(1, 6)
]
CARRIERS = [
    ("ODFL", "Old Dominion"),
    ("FXFE", "FedEx Freight"),
    ("UPSN", "UPS"),
    ("SAIA", "Saia"),
    ("XPOL", "XPO"),
    ("JBHT", "J.B. Hunt"),
    ("SCNN", "Schneider"),
]
MODES = ["parcel", "ltl", "ltl", "ftl", "ftl", "ocean", "air", "rail"]
FULL_ROUTE = [
    "picked_up",
    "departed_origin",
    "arrived_hub",
    "departed_hub",
    "in_transit",
    "arrived_hub",
    "departed_hub",
    "out_for_delivery",
]
MILESTONE_STATUS = {
    "picked_up": "in_transit",
    "departed_origin": "in_transit",
    "arrived_hub": "in_transit",
    "departed_hub": "in_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivery_attempted": "out_for_delivery",
    "exception": "exception",
    "delivered": "delivered",
}
ORDER_STATUS_PRECEDENCE = [
    "exception",
    "out_for_delivery",
    "in_transit",
    "carrier_assigned",
    "planned",
    "booked",
]
N = "\\N"


def _ts(moment: datetime | None) -> str:
    return N if moment is None else moment.isoformat()


def _array(values: list[Any]) -> str:
    return "{" + ",".join(str(value) for value in values) + "}"


@dataclass
class Ids:
    """Next primary key per table (the tables may already hold rows, e.g. in tests)."""

    next: dict[str, int] = field(default_factory=dict)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


@dataclass
class Buffers:
    lines: dict[str, list[str]] = field(default_factory=lambda: {t: [] for t in BIG_TABLES})
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BIG_TABLES, 0))

    def add(self, table: str, *values: Any) -> None:
        self.lines[table].append("\t".join(values))

    def flush(self, cursor: Any) -> None:
        for table, lines in self.lines.items():
            if not lines:
                continue
            with cursor.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                copy.write("\n".join(lines) + "\n")
            self.counts[table] += len(lines)
            lines.clear()


def tenant_weights(count: int) -> list[float]:
    return [1 / (rank**0.9) for rank in range(1, count + 1)]


def accounts_per_tenant(rank: int) -> int:
    return 20 if rank == 1 else 2 + (rank * 7) % 9


def create_people(tenants: int) -> dict[str, Any]:
    """Tenants, customer accounts, users and entitlements through the ORM (small tables)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Permission

    from accounts.models import (
        CustomerAccount,
        CustomerAccountUserObjectPermission,
        Membership,
        StaffProfile,
        Tenant,
    )

    user_model = get_user_model()
    password = make_password(PASSWORD)
    tenant_rows = Tenant.objects.bulk_create(
        Tenant(slug=f"bench-t{rank:02d}", name=f"Bench Tenant {rank:02d}")
        for rank in range(1, tenants + 1)
    )
    accounts: list[list[int]] = []
    for rank, tenant in enumerate(tenant_rows, start=1):
        rows = CustomerAccount.objects.bulk_create(
            CustomerAccount(
                number=f"BT{rank:02d}-{index:03d}",
                name=f"Tenant {rank:02d} account {index}",
                tenant=tenant,
            )
            for index in range(1, accounts_per_tenant(rank) + 1)
        )
        accounts.append([row.id for row in rows])
    users = user_model.objects.bulk_create(
        [
            user_model(username=f"{tenant.slug}-{kind}", password=password)
            for tenant in tenant_rows
            for kind in ("all", "one")
        ]
        + [user_model(username="bench-staff", password=password, is_staff=True)]
    )
    by_name = {user.username: user for user in users}
    Membership.objects.bulk_create(
        Membership(
            user=by_name[f"{tenant.slug}-{kind}"],
            tenant=tenant,
            all_accounts=kind == "all",
            finance=kind == "all",
        )
        for tenant in tenant_rows
        for kind in ("all", "one")
    )
    view = Permission.objects.get(
        codename="view_customeraccount", content_type__app_label="accounts"
    )
    CustomerAccountUserObjectPermission.objects.bulk_create(
        CustomerAccountUserObjectPermission(
            user=by_name[f"{tenant.slug}-one"], permission=view, content_object_id=accounts[i][0]
        )
        for i, tenant in enumerate(tenant_rows)
    )
    StaffProfile.objects.create(user=by_name["bench-staff"], all_tenants=True)
    return {"tenants": [tenant.id for tenant in tenant_rows], "accounts": accounts}


class Generator:
    """Builds orders with their shipments, history, invoices and references, by chunk."""

    def __init__(self, accounts: list[list[int]], ids: Ids, seed: int) -> None:
        self.accounts = accounts
        self.ids = ids
        self.seed = seed
        self.cumulative: list[float] = []
        total = 0.0
        for weight in tenant_weights(len(accounts)):
            total += weight
            self.cumulative.append(total)
        self.total_weight = total
        from visibility.services.references import normalize_reference

        self.normalize = normalize_reference

    def account(self, rng: random.Random) -> int:
        tenant = min(
            bisect(self.cumulative, rng.random() * self.total_weight), len(self.accounts) - 1
        )
        return rng.choice(self.accounts[tenant])

    def references(
        self,
        out: Buffers,
        account: int,
        kind: str,
        key: str,
        owner: str,
        owner_id: int,
        refs: list[tuple[str, str]],
    ) -> None:
        seen = set()
        for reference_type, value in refs:
            normalized = self.normalize(value or "")
            if not normalized or (reference_type, normalized) in seen:
                continue
            seen.add((reference_type, normalized))
            out.add(
                "visibility_reference",
                str(self.ids.take("visibility_reference")),
                kind,
                key,
                reference_type,
                value[:128],
                normalized[:128],
                str(account),
                str(owner_id) if owner == "invoice" else N,
                str(owner_id) if owner == "order" else N,
                str(owner_id) if owner == "shipment" else N,
            )

    def chunk(self, out: Buffers, first_order: int, count: int) -> int:
        """Orders first_order .. first_order+count-1; returns how many shipments."""
        rng = random.Random(self.seed * 1_000_003 + first_order)
        shipments = 0
        load_id, load_left, load_account = "", 0, 0
        for number in range(first_order, first_order + count):
            account = self.account(rng)
            order_pk = self.ids.take("visibility_order")
            order_number = f"SO{10_000_000 + number}"
            customer_po = (
                f"PO-{rng.randrange(1000, 9999)}-{number:07d}" if rng.random() < 0.85 else ""
            )
            ordered_at = NOW - timedelta(seconds=rng.randrange(0, 400 * 86400))
            requested = (ordered_at + timedelta(days=rng.randrange(5, 12))).date()
            ship_from, ship_to = rng.choice(LOCATIONS), rng.choice(LOCATIONS)
            line_count = rng.randrange(1, 5)
            for line in range(1, line_count + 1):
                out.add(
                    "visibility_orderline",
                    str(self.ids.take("visibility_orderline")),
                    str(line),
                    f"SKU-{rng.randrange(10000, 99999)}",
                    f"Item {line}",
                    f"{rng.randrange(1, 500)}.000",
                    "EA",
                    f"{rng.randrange(1, 9000)}.500",
                    str(order_pk),
                )
            self.references(
                out,
                account,
                "order",
                order_number,
                "order",
                order_pk,
                [("order_number", order_number), ("customer_po", customer_po)],
            )
            split = 2 if number % 9 == 0 else 1
            statuses, moments, shipment_keys = [], [ordered_at], []
            for part in range(split):
                if load_left == 0 or load_account != account:
                    load_id = f"LD{3_000_000 + number}{part}"
                    load_left, load_account = rng.randrange(1, 7), account
                load_left -= 1
                lines = list(range(1, line_count + 1))
                if split == 2:
                    lines = (
                        lines[: max(1, line_count // 2)]
                        if part == 0
                        else lines[max(1, line_count // 2) :] or [line_count]
                    )
                status, last = self.shipment(
                    out,
                    rng,
                    account,
                    order_pk,
                    number,
                    part,
                    ordered_at,
                    requested,
                    ship_from,
                    ship_to,
                    load_id,
                    lines,
                    shipment_keys,
                )
                statuses.append(status)
                moments.append(last)
                shipments += 1
            if set(statuses) == {"delivered"}:
                order_status = "delivered"
            else:
                order_status = next((s for s in ORDER_STATUS_PRECEDENCE if s in statuses), "booked")
            out.add(
                "visibility_order",
                str(order_pk),
                N,
                _ts(ordered_at),
                f"bench:order:{number}",
                order_number,
                customer_po,
                ordered_at.date().isoformat(),
                requested.isoformat(),
                ship_from,
                ship_to,
                order_status,
                N,
                "",
                _ts(max(moments)),
                str(account),
                "bench",  # the source part of the snapshot event key
            )
            if rng.random() < 0.3:
                self.invoice(out, rng, account, number, order_number, shipment_keys, ordered_at)
        return shipments

    def shipment(
        self,
        out: Buffers,
        rng: random.Random,
        account: int,
        order_pk: int,
        number: int,
        part: int,
        ordered_at: datetime,
        requested: date,
        ship_from: str,
        ship_to: str,
        load_id: str,
        lines: list[int],
        keys: list[str],
    ) -> tuple[str, datetime]:
        pk = self.ids.take("visibility_shipment")
        shipment_id = f"SH{20_000_000 + number * 2 + part}"
        keys.append(shipment_id)
        created_at = ordered_at + timedelta(hours=rng.randrange(1, 24))
        pickup = ordered_at + timedelta(hours=rng.randrange(24, 96))
        planned_delivery = pickup + timedelta(hours=rng.randrange(48, 168))
        mode = rng.choice(MODES)
        tracking = [f"1Z{rng.getrandbits(48):012X}" for _ in range(rng.randrange(1, 3))]
        scac, carrier_name = ("", "")
        tender_at = carrier_at = None
        carrier_key = ""
        if rng.random() < 0.95:
            scac, carrier_name = rng.choice(CARRIERS)
            tender_at = carrier_at = created_at + timedelta(hours=rng.randrange(1, 12))
            carrier_key = f"bench:tender:{shipment_id}"
        out.add(
            "visibility_shipmentstop",
            str(self.ids.take("visibility_shipmentstop")),
            "1",
            "pickup",
            ship_from,
            _ts(pickup),
            str(pk),
        )
        out.add(
            "visibility_shipmentstop",
            str(self.ids.take("visibility_shipmentstop")),
            "2",
            "delivery",
            ship_to,
            _ts(planned_delivery),
            str(pk),
        )
        out.add(
            "visibility_shipmentorder",
            str(self.ids.take("visibility_shipmentorder")),
            _array(lines),
            str(order_pk),
            str(pk),
        )

        # History: the route's milestones up to now, an ETA update, sometimes a delay.
        actual = planned_delivery + timedelta(hours=rng.randrange(-24, 30))
        delayed_fact = rng.random() < 0.08
        if delayed_fact:
            actual += timedelta(hours=rng.randrange(24, 72))
        ends_in_exception = rng.random() < 0.02
        route = [*FULL_ROUTE, "exception" if ends_in_exception else "delivered"]
        step = (actual - pickup) / (len(route) - 1)
        facts: list[tuple] = []  # (occurred_at, kind, milestone, key, eta, basis)
        for index, milestone in enumerate(route):
            at = pickup + step * index
            if at > NOW:
                break
            facts.append((at, "milestone", milestone, f"bench:{shipment_id}:m{index}", None, ""))
        eta_at = pickup + step
        if eta_at <= NOW and not ends_in_exception:
            facts.append((eta_at, "eta", "", f"bench:{shipment_id}:eta", actual, "carrier"))
        if delayed_fact and pickup + step * 3 <= NOW:
            facts.append((pickup + step * 3, "delay", "", f"bench:{shipment_id}:delay", actual, ""))

        milestone_rank = {
            m: r
            for r, m in enumerate(
                [
                    "picked_up",
                    "departed_origin",
                    "arrived_hub",
                    "departed_hub",
                    "in_transit",
                    "out_for_delivery",
                    "delivery_attempted",
                    "exception",
                    "delivered",
                ],
                start=1,
            )
        }
        received_by = ""
        status_at = delivered_at = None
        milestones = [f for f in facts if f[1] == "milestone"]
        if milestones:
            latest = max(milestones, key=lambda f: (f[0], milestone_rank[f[2]], f[3]))
            status, status_at = MILESTONE_STATUS[latest[2]], latest[0]
        else:
            status = "carrier_assigned" if scac else "planned"
        for fact in facts:
            location = (
                ship_to
                if fact[2] in ("delivered", "out_for_delivery")
                else ship_from
                if fact[2] in ("picked_up", "departed_origin")
                else LOCATIONS[(number + len(fact[3])) % len(LOCATIONS)]
            )
            receiver = ""
            if fact[2] == "delivered":
                receiver = received_by = f"R. Dock {number % 97}"
                delivered_at = fact[0]
            if fact[1] == "milestone":
                stop = "1" if fact[2] == "picked_up" else "2" if fact[2] == "delivered" else N
                out.add(
                    "visibility_shipmentevent",
                    str(self.ids.take("visibility_shipmentevent")),
                    fact[3],
                    "milestone",
                    _ts(fact[0]),
                    fact[2],
                    "",
                    location,
                    stop,
                    "",
                    receiver,
                    N,
                    N,
                    N,
                    "",
                    "",
                    "",
                    str(pk),
                )
            elif fact[1] == "eta":
                out.add(
                    "visibility_shipmentevent",
                    str(self.ids.take("visibility_shipmentevent")),
                    fact[3],
                    "eta",
                    _ts(fact[0]),
                    "",
                    "",
                    N,
                    N,
                    "",
                    "",
                    _ts(fact[4]),
                    _ts(fact[4] - timedelta(hours=2)),
                    _ts(fact[4] + timedelta(hours=2)),
                    "carrier",
                    "",
                    "",
                    str(pk),
                )
            else:
                out.add(
                    "visibility_shipmentevent",
                    str(self.ids.take("visibility_shipmentevent")),
                    fact[3],
                    "delay",
                    _ts(fact[0]),
                    "",
                    "",
                    N,
                    N,
                    "",
                    "",
                    _ts(fact[4]),
                    N,
                    N,
                    "",
                    "WX",
                    "Weather",
                    str(pk),
                )
        estimates = [f for f in facts if f[4] is not None]
        if estimates:
            newest = max(estimates, key=lambda f: (f[0], f[3]))
            eta = newest[4]
            if newest[1] == "eta":
                window = (_ts(eta - timedelta(hours=2)), _ts(eta + timedelta(hours=2)))
                basis = "carrier"
            else:
                window, basis = (N, N), "carrier"
        else:
            eta, window, basis = planned_delivery, (N, N), "planned"
        is_open = status not in ("delivered", "cancelled")
        at_risk = is_open and eta.date() > requested
        delayed = is_open and (any(f[1] == "delay" for f in facts) or eta > planned_delivery)
        moments = [f[0] for f in facts] + [created_at] + ([carrier_at] if carrier_at else [])
        last_event_at = max(moments)
        out.add(
            "visibility_shipment",
            str(pk),
            N,
            _ts(created_at),
            f"bench:shipment:{shipment_id}",
            shipment_id,
            load_id,
            scac,
            carrier_name,
            mode,
            "standard",
            _array(tracking),
            ship_from,
            ship_to,
            _ts(pickup),
            _ts(planned_delivery),
            _ts(tender_at),
            _ts(carrier_at),
            carrier_key,
            status,
            _ts(status_at),
            _ts(eta),
            window[0],
            window[1],
            basis,
            requested.isoformat(),
            "t" if delayed else "f",
            "t" if at_risk else "f",
            _ts(delivered_at),
            received_by,
            _ts(last_event_at),
            str(account),
        )
        # Who sees the shipment: the accounts of its orders (one here), with its list
        # ordering key, as derivation keeps them.
        out.add(
            "visibility_shipmentaccount",
            str(self.ids.take("visibility_shipmentaccount")),
            str(account),
            str(pk),
            _ts(last_event_at),
        )
        self.references(
            out,
            account,
            "shipment",
            shipment_id,
            "shipment",
            pk,
            [
                ("shipment_id", shipment_id),
                ("load_id", load_id),
                *(("tracking_number", value) for value in tracking),
            ],
        )
        return status, last_event_at

    def invoice(
        self,
        out: Buffers,
        rng: random.Random,
        account: int,
        number: int,
        order_number: str,
        shipment_keys: list[str],
        ordered_at: datetime,
    ) -> None:
        pk = self.ids.take("visibility_invoice")
        invoice_number = f"INV-{ordered_at.year}-{number:08d}"
        issued = (ordered_at + timedelta(days=rng.randrange(7, 15))).date()
        amounts = [rng.randrange(10_000, 500_000) for _ in range(rng.randrange(1, 3))]
        total = sum(amounts)
        paid = issued + timedelta(days=30) < NOW.date() and rng.random() < 0.9
        paid_at = (
            datetime.combine(
                issued + timedelta(days=rng.randrange(5, 30)), datetime.min.time(), UTC
            )
            if paid
            else None
        )
        out.add(
            "visibility_invoice",
            str(pk),
            N,
            _ts(ordered_at + timedelta(days=7)),
            f"bench:invoice:{invoice_number}",
            invoice_number,
            _array([order_number]),
            _array(shipment_keys),
            issued.isoformat(),
            (issued + timedelta(days=30)).isoformat(),
            "USD",
            f"{total / 100:.2f}",
            _ts(paid_at),
            f"{total / 100:.2f}" if paid else N,
            f"bench:payment:{invoice_number}" if paid else "",
            str(account),
        )
        for position, amount in enumerate(amounts, start=1):
            out.add(
                "visibility_invoiceline",
                str(self.ids.take("visibility_invoiceline")),
                str(position),
                f"Freight charge {position}",
                f"{amount / 100:.2f}",
                str(pk),
            )
        self.references(
            out,
            account,
            "invoice",
            invoice_number,
            "invoice",
            pk,
            [("invoice_number", invoice_number)],
        )


def orders_for(shipments: int) -> int:
    # Every ninth order ships in two parts: shipments = orders * 10 / 9.
    return max(1, round(shipments * 9 / 10))


def drop_secondary(cursor: Any) -> list[str]:
    """Drop the big tables' non-primary-key indexes and constraints; returns how to
    re-create them."""
    tables = ", ".join(f"'{table}'" for table in BIG_TABLES)
    cursor.execute(f"""
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype
          FROM pg_constraint
         WHERE conrelid::regclass::text IN ({tables}) AND contype IN ('u', 'f')
         ORDER BY contype DESC""")
    constraints = cursor.fetchall()
    cursor.execute(f"""
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
          FROM pg_index i
         WHERE i.indrelid::regclass::text IN ({tables}) AND NOT i.indisprimary
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""")
    indexes = cursor.fetchall()
    for table, name, _, _ in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    recreate = [definition for _, definition in indexes]
    recreate += [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
        for table, name, definition, kind in sorted(constraints, key=lambda c: c[3], reverse=True)
    ]
    return recreate


def generate(
    shipments: int,
    *,
    seed: int = 1,
    tenants: int = TENANTS,
    rebuild_indexes: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Fill the current Django database connection's read models (adds to what is there)."""
    from django.db import connection

    from integration.progress import ProgressBar

    started = time.monotonic()
    people = create_people(tenants)
    connection.ensure_connection()
    raw = connection.connection
    timings: dict[str, float] = {}
    with raw.cursor() as cursor:
        ids = Ids()
        for table in BIG_TABLES:
            cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
            ids.next[table] = cursor.fetchone()[0]
        recreate = drop_secondary(cursor) if rebuild_indexes else []
        if rebuild_indexes:
            raw.commit()
        generator = Generator(people["accounts"], ids, seed)
        orders = orders_for(shipments)
        bar = ProgressBar(orders, label="orders") if progress else None
        out = Buffers()
        made = 0
        for first in range(0, orders, CHUNK_ORDERS):
            count = min(CHUNK_ORDERS, orders - first)
            made += generator.chunk(out, first, count)
            out.flush(cursor)
            if bar:
                bar.advance(count)
        if bar:
            bar.finish()
        timings["copy_s"] = round(time.monotonic() - started, 1)
        if rebuild_indexes:
            raw.commit()
            cursor.execute("SET maintenance_work_mem = '1GB'")
            cursor.execute("SET max_parallel_maintenance_workers = 2")
            for number, statement in enumerate(recreate, start=1):
                step = time.monotonic()
                cursor.execute(statement)
                raw.commit()
                if progress:
                    print(
                        f"  [{number}/{len(recreate)}] {time.monotonic() - step:5.1f}s "
                        f"{statement[:110]}",
                        flush=True,
                    )
            timings["indexes_s"] = round(time.monotonic() - started - timings["copy_s"], 1)
        for table in BIG_TABLES:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        if rebuild_indexes:
            raw.commit()
            analyze_started = time.monotonic()
            for table in [*BIG_TABLES, "accounts_customeraccount", "accounts_tenant"]:
                cursor.execute(f"VACUUM ANALYZE {table}")
            raw.commit()
            timings["analyze_s"] = round(time.monotonic() - analyze_started, 1)
    timings["total_s"] = round(time.monotonic() - started, 1)
    return {"shipments": made, "orders": orders, "rows": out.counts, "timings": timings, **people}


def database_url(name: str = DATABASE) -> str:
    return f"{SERVER_URL}/{name}"


def ensure_database(name: str = DATABASE, *, fresh: bool = False) -> None:
    """Create (or re-create) the bench database and migrate it in a subprocess."""
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    environment = {**os.environ, "DATABASE_URL": database_url(name)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=environment, check=True
    )


def setup_django(name: str = DATABASE) -> None:
    os.environ["DATABASE_URL"] = database_url(name)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generated_shipments(name: str = DATABASE) -> int:
    """How many shipments the bench database holds (0 when it does not exist)."""
    import psycopg

    try:
        with psycopg.connect(database_url(name)) as conn:
            return conn.execute("SELECT count(*) FROM visibility_shipment").fetchone()[0]
    except psycopg.Error:
        return 0


def fill_operations(name: str = DATABASE) -> None:
    """The inbox and open work the operations figures read (bench/operations_data.py)."""
    import psycopg

    from bench import operations_data

    with psycopg.connect(database_url(name), autocommit=True) as conn:
        operations_data.fill(conn, log=lambda line: print(line, flush=True))


def main() -> None:
    shipments = int(os.environ.get("BENCH_SHIPMENTS", "1000000"))
    seed = int(os.environ.get("BENCH_SEED", "1"))
    print(f"Generating {shipments:,} shipments into {DATABASE} (seed {seed})", flush=True)
    started = time.monotonic()
    ensure_database(fresh=True)
    setup_django()
    result = generate(shipments, seed=seed)
    fill_operations()
    print(
        f"Done in {time.monotonic() - started:.0f}s: {result['shipments']:,} shipments, "
        f"{result['orders']:,} orders; rows {result['rows']}; timings {result['timings']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
