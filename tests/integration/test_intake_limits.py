"""The contract's limits (1.1): what passes intake never fails later because of its size or
range, and no input makes intake answer 500 or lose the good events of a batch.

Each case is one an outside tester found on the demo (issue 15): the value was accepted,
then broke processing (a dead letter, or a DataError in every later batch) or a page."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from integration.models import InboxEvent, RejectedEvent
from integration.services.processing import process_inbox_until_empty
from tests.helpers import read_jsonl
from visibility.models import Order, Shipment

pytestmark = pytest.mark.django_db

STORY = read_jsonl("order-to-cash.jsonl")


def post_raw(client, token: str, raw: str | bytes):
    return client.post(
        "/api/v1/events",
        data=raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def story_of(source: str) -> list[dict]:
    return [copy.deepcopy(event) for event in STORY if event["source"] == source]


def bad_event(template_index: int, event_id: str, **data_changes) -> dict:
    event = copy.deepcopy(STORY[template_index])
    event["event_id"] = event_id
    event["data"].update(data_changes)
    return event


def send_story_with(client, source_tokens, bad_events: list[dict], *, raw=None) -> list[dict]:
    """Send the story's ERP events, then its TMS events with `bad_events` in the middle of
    the batch; project; return the TMS batch's results."""
    erp = post_raw(client, source_tokens["erp"], json.dumps({"events": story_of("erp")}))
    assert erp.status_code == 202
    tms = story_of("tms")
    body = raw or json.dumps({"events": tms[:6] + bad_events + tms[6:]})
    response = post_raw(client, source_tokens["tms"], body)
    assert response.status_code == 202, response.content
    process_inbox_until_empty()
    return response.json()["results"]


def assert_story_projected_and_pages_answer(admin_client) -> None:
    shipment = Shipment.objects.get(shipment_id="SHP-778120")
    assert shipment.status == "delivered"
    assert Order.objects.filter(order_number="SO-100045").exists()
    assert not InboxEvent.objects.exclude(state="processed").exists()
    assert admin_client.get("/admin/integration/inboxevent/").status_code == 200
    assert admin_client.get("/admin/integration/rejectedevent/").status_code == 200
    assert admin_client.get("/operations/integration/").status_code == 200


def statuses(results) -> dict[str, str]:
    return {result["event_id"]: result["status"] for result in results}


def errors_of(results, event_id: str) -> list[dict[str, str]]:
    [result] = [result for result in results if result["event_id"] == event_id]
    assert result["status"] == "rejected", result
    return result["errors"]


# --- 1. timestamps -------------------------------------------------------------------------


def test_a_year_1_or_year_9999_timestamp_is_rejected_and_the_batch_projects(
    client, admin_client, brenner, source_tokens
):
    year_1 = bad_event(3, "tms-year-1")
    year_1["occurred_at"] = "0001-01-01T00:00:00+14:00"
    year_9999 = bad_event(5, "tms-year-9999", eta="9999-12-31T23:59:59-14:00")

    results = send_story_with(client, source_tokens, [year_1, year_9999])

    assert errors_of(results, "tms-year-1") == [
        {"field": "occurred_at", "message": "must be between 1970-01-01 and 2100-01-01 (UTC)"}
    ]
    assert errors_of(results, "tms-year-9999") == [
        {"field": "data.eta", "message": "must be between 1970-01-01 and 2100-01-01 (UTC)"}
    ]
    assert RejectedEvent.objects.filter(event_id__in=["tms-year-1", "tms-year-9999"]).count() == 2
    assert_story_projected_and_pages_answer(admin_client)


@pytest.mark.parametrize(
    ("eta", "status"),
    [
        ("1970-01-01T00:00:00Z", "accepted"),
        ("1970-01-01T00:59:59+01:00", "rejected"),  # 1969 in UTC
        ("2100-01-01T00:00:00Z", "accepted"),
        ("2100-01-01T00:00:01Z", "rejected"),
        ("2099-12-31T23:00:00-01:00", "accepted"),
        ("2099-12-31T23:00:01-01:00", "rejected"),
        ("2026-11-20T10:15:00+24:00", "rejected"),
        ("2026-02-30T10:15:00Z", "rejected"),
    ],
)
def test_timestamps_are_bounded_to_1970_2100_in_utc(client, source_tokens, eta, status):
    event = bad_event(5, "tms-eta-bound", eta=eta)

    [result] = post_raw(client, source_tokens["tms"], json.dumps(event)).json()["results"]

    assert result["status"] == status, result


@pytest.mark.parametrize(("hours_ahead", "status"), [(23, "accepted"), (25, "rejected")])
def test_occurred_at_may_be_at_most_24_hours_ahead_of_receipt(
    client, source_tokens, settings, hours_ahead, status
):
    settings.EVENTS_MAX_CLOCK_SKEW_HOURS = 24  # the contract's limit, the default setting
    event = bad_event(3, "tms-future")
    event["occurred_at"] = (timezone.now() + timedelta(hours=hours_ahead)).isoformat()

    [result] = post_raw(client, source_tokens["tms"], json.dumps(event)).json()["results"]

    assert result["status"] == status, result
    if status == "rejected":
        assert result["errors"][0]["field"] == "occurred_at"


def test_dates_are_bounded_to_1970_2100(client, source_tokens):
    event = copy.deepcopy(STORY[0])
    event["data"]["order_date"] = "0001-01-01"
    event["data"]["requested_delivery_date"] = "2100-01-02"

    [result] = post_raw(client, source_tokens["erp"], json.dumps(event)).json()["results"]

    assert [error["field"] for error in result["errors"]] == [
        "data.order_date",
        "data.requested_delivery_date",
    ]


# --- 2. integers -----------------------------------------------------------------------


def test_integers_beyond_int32_are_rejected_with_the_field_named(
    client, admin_client, brenner, source_tokens
):
    huge = 2**40
    order = copy.deepcopy(STORY[0])
    order["event_id"] = "erp-huge-line"
    order["data"]["lines"][1]["line_number"] = huge
    shipment = bad_event(1, "tms-huge-stop")
    shipment["data"]["stops"][0]["sequence"] = huge
    shipment["data"]["orders"][0]["line_numbers"] = [10, huge]
    milestone = bad_event(3, "tms-huge-stop-sequence", stop_sequence=huge)
    envelope = bad_event(4, "tms-huge-sequence")
    envelope["sequence"] = 2**63

    [order_result] = post_raw(client, source_tokens["erp"], json.dumps(order)).json()["results"]
    results = send_story_with(client, source_tokens, [shipment, milestone, envelope])

    assert order_result["errors"] == [
        {"field": "data.lines[1].line_number", "message": "must be at most 2,147,483,647"}
    ]
    assert [error["field"] for error in errors_of(results, "tms-huge-stop")] == [
        "data.orders[0].line_numbers[1]",
        "data.stops[0].sequence",
    ]
    assert errors_of(results, "tms-huge-stop-sequence")[0]["field"] == "data.stop_sequence"
    assert errors_of(results, "tms-huge-sequence")[0]["field"] == "sequence"
    assert not InboxEvent.objects.filter(state="dead").exists()
    assert_story_projected_and_pages_answer(admin_client)


def test_the_largest_int32_is_accepted_and_projected(client, brenner, source_tokens):
    order = copy.deepcopy(STORY[0])
    order["data"]["lines"][1]["line_number"] = 2**31 - 1

    [result] = post_raw(client, source_tokens["erp"], json.dumps(order)).json()["results"]
    process_inbox_until_empty()

    assert result["status"] == "accepted"
    assert InboxEvent.objects.get().state == "processed"


# --- quantities, money, identifiers, text, lists -------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "status"),
    [
        ("123456789012345678.123456", "accepted"),
        (123456789012345678, "accepted"),
        ("1234567890123456789", "rejected"),
        ("1.1234567", "rejected"),
        ("1.5000000", "accepted"),
        ("NaN", "rejected"),
        ("1e3", "rejected"),
        (1e300, "rejected"),
    ],
)
def test_quantities_have_at_most_18_digits_before_and_6_after_the_point(
    client, brenner, source_tokens, quantity, status
):
    order = copy.deepcopy(STORY[0])
    order["data"]["lines"][0]["quantity"] = quantity
    order["data"]["lines"][0]["weight_kg"] = quantity

    [result] = post_raw(client, source_tokens["erp"], json.dumps(order)).json()["results"]
    process_inbox_until_empty()

    assert result["status"] == status, result
    if status == "accepted":
        assert InboxEvent.objects.get().state == "processed"


@pytest.mark.parametrize(
    ("amount", "status"),
    [
        ("999999999999999999.99", "accepted"),
        ("-12.50", "accepted"),
        (12.5, "accepted"),
        ("1.005", "rejected"),
        ("1234567890123456789.00", "rejected"),
    ],
)
def test_money_has_at_most_18_digits_before_and_2_after_the_point(
    client, brenner, source_tokens, story, amount, status
):
    charge = copy.deepcopy(story[12])
    charge["data"]["amount"] = amount
    post_raw(client, source_tokens["erp"], json.dumps(story[0]))
    post_raw(client, source_tokens["tms"], json.dumps(story[1]))

    [result] = post_raw(client, source_tokens["tms"], json.dumps(charge)).json()["results"]
    process_inbox_until_empty()

    assert result["status"] == status, result
    assert not InboxEvent.objects.exclude(state="processed").exists()


@pytest.mark.parametrize(
    ("shipment_id", "message"),
    [
        ("XM-NL\nBcc: x@y", "must not contain control characters (U+0000-U+001F, U+007F)"),
        ("XM\x7f1", "must not contain control characters (U+0000-U+001F, U+007F)"),
        (" XM-1", "must not start or end with spaces"),
        ("XM-1 ", "must not start or end with spaces"),
        ("X" * 129, "must be at most 128 characters"),
        ("", "must be a non-empty string"),
    ],
)
def test_identifiers_with_control_characters_or_outer_spaces_are_rejected(
    client, source_tokens, shipment_id, message
):
    event = bad_event(3, "tms-odd-id", shipment_id=shipment_id)

    [result] = post_raw(client, source_tokens["tms"], json.dumps(event)).json()["results"]

    assert result["errors"] == [{"field": "data.shipment_id", "message": message}]


def test_identifiers_of_128_characters_of_any_unicode_are_projected(client, brenner, source_tokens):
    order_number = "SO/2026/Ä—" + "9" * 118
    order = copy.deepcopy(STORY[0])
    order["data"]["order_number"] = order_number
    order["data"]["lines"][0]["sku"] = "S" * 128
    order["data"]["lines"][0]["description"] = "d" * 1000

    [result] = post_raw(client, source_tokens["erp"], json.dumps(order)).json()["results"]
    process_inbox_until_empty()

    assert result["status"] == "accepted"
    assert Order.objects.get().order_number == order_number


def test_text_allows_newlines_only_in_remarks_and_reason_text(client, source_tokens):
    remarks = bad_event(3, "tms-remarks", remarks="line one\nline two\tend")
    name = bad_event(3, "tms-location-name")
    name["data"]["location"]["name"] = "Hub\nBcc: x@y"
    long_text = bad_event(3, "tms-long-remarks", remarks="r" * 1001)

    results = post_raw(
        client, source_tokens["tms"], json.dumps({"events": [remarks, name, long_text]})
    ).json()["results"]

    assert statuses(results) == {
        "tms-remarks": "accepted",
        "tms-location-name": "rejected",
        "tms-long-remarks": "rejected",
    }
    assert errors_of(results, "tms-location-name")[0]["field"] == "data.location.name"
    assert errors_of(results, "tms-long-remarks") == [
        {"field": "data.remarks", "message": "must be at most 1000 characters"}
    ]


def test_lists_hold_at_most_1000_items(client, source_tokens):
    event = bad_event(1, "tms-many-tracking", tracking_numbers=[f"T{i}" for i in range(1001)])

    [result] = post_raw(client, source_tokens["tms"], json.dumps(event)).json()["results"]

    assert result["errors"] == [
        {"field": "data.tracking_numbers", "message": "must hold at most 1,000 items"}
    ]


# --- 3. what JSON can carry ----------------------------------------------------------------


def test_a_lone_surrogate_rejects_its_event_only_and_the_event_is_stored(
    client, admin_client, brenner, source_tokens
):
    tms = story_of("tms")
    batch = json.dumps({"events": [*tms[:6], "SURROGATE", *tms[6:]]})
    surrogate_event = json.dumps(bad_event(3, "tms-surrogate", remarks="PLACEHOLDER"))
    surrogate_event = surrogate_event.replace("PLACEHOLDER", "bad \\ud800 text")
    raw = batch.replace('"SURROGATE"', surrogate_event)

    results = send_story_with(client, source_tokens, [], raw=raw)

    assert errors_of(results, "tms-surrogate") == [
        {
            "field": "data.remarks",
            "message": "text is not valid Unicode (a lone surrogate such as \\ud800)",
        }
    ]
    stored = RejectedEvent.objects.get(event_id="tms-surrogate")
    assert stored.body["data"]["remarks"] == "bad \ufffd text"
    assert_story_projected_and_pages_answer(admin_client)


def test_a_lone_surrogate_in_an_identifier_or_a_key_is_rejected(client, source_tokens):
    raw = json.dumps(bad_event(3, "tms-surrogate-id", shipment_id="S-X", extra={"k": 1}))
    raw = raw.replace("S-X", "S-\\udfff").replace('"k"', '"\\ud800k"')

    [result] = post_raw(client, source_tokens["tms"], raw).json()["results"]

    assert [error["field"] for error in result["errors"]] == [
        "data.extra.\ufffdk",
        "data.shipment_id",
    ]
    assert RejectedEvent.objects.get().body["data"]["shipment_id"] == "S-\ufffd"


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_or_infinity_in_an_ignored_field_rejects_that_event_only(
    client, admin_client, brenner, source_tokens, token
):
    tms = story_of("tms")
    raw = json.dumps({"events": [*tms[:6], "BAD", *tms[6:]]})
    raw = raw.replace('"BAD"', json.dumps(bad_event(3, "tms-nan", unknown="X")))
    raw = raw.replace('"unknown": "X"', f'"unknown": {token}')

    results = send_story_with(client, source_tokens, [], raw=raw)

    assert errors_of(results, "tms-nan")[0]["field"] == "data.unknown"
    assert RejectedEvent.objects.get(event_id="tms-nan").body["data"]["unknown"] in (
        "nan",
        "inf",
        "-inf",
    )
    assert_story_projected_and_pages_answer(admin_client)


def test_a_nul_character_anywhere_rejects_the_event(client, source_tokens):
    event = bad_event(3, "tms-nul", remarks="a\x00b", unknown={"x": "\x00"})

    [result] = post_raw(client, source_tokens["tms"], json.dumps(event)).json()["results"]

    assert {error["field"] for error in result["errors"]} == {"data.remarks", "data.unknown.x"}
    assert RejectedEvent.objects.get().body["data"]["remarks"] == "a\ufffdb"


def test_json_nested_10000_deep_is_a_400_never_a_500(client, source_tokens):
    raw = '{"events": [' + "[" * 10_000 + "]" * 10_000 + "]}"

    response = post_raw(client, source_tokens["tms"], raw)

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_json_nested_beyond_32_levels_rejects_that_event_only(
    client, admin_client, brenner, source_tokens
):
    deep: dict = {}
    for _ in range(200):
        deep = {"x": deep}
    nested = bad_event(3, "tms-deep", unknown=deep)
    # The event is level 1, data 2, unknown 3: 32 levels in all is the most allowed.
    just_fits: dict = {}
    for _ in range(29):
        just_fits = {"x": just_fits}
    fits = bad_event(4, "tms-fits", unknown=just_fits)

    results = send_story_with(client, source_tokens, [nested, fits])

    assert errors_of(results, "tms-deep")[0]["message"] == "nests deeper than 32 levels"
    assert statuses(results)["tms-fits"] == "accepted"
    stored = RejectedEvent.objects.get(event_id="tms-deep")
    assert "not kept" in json.dumps(stored.body)
    assert_story_projected_and_pages_answer(admin_client)


def test_huge_integers_anywhere_never_500(client, source_tokens):
    raw = json.dumps(bad_event(3, "tms-big-int", unknown=1)).replace(
        '"unknown": 1', '"unknown": ' + "9" * 4000
    )

    [result] = post_raw(client, source_tokens["tms"], raw).json()["results"]

    assert result["status"] == "accepted"
    assert post_raw(client, source_tokens["tms"], "[" + "9" * 5000 + "]").status_code == 400
