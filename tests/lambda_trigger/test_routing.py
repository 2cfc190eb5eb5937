"""Routing S3 keys to jobs: prefixes, suffixes, globs, overlaps, encoded keys."""

from __future__ import annotations

import pytest

from tests.lambda_trigger.conftest import trigger_module

routing = trigger_module("routing")
handler = trigger_module("handler")
Route, RoutingTable = routing.Route, routing.RoutingTable

TABLE = RoutingTable(
    [
        Route("sales_ingest", "raw", prefix="sales/incoming/", suffix=".csv"),
        Route("sales_audit", "raw", prefix="sales/"),  # overlaps the ingest's prefix
        Route("events", "raw", prefix="marketing/events/", suffix=".json"),
        Route("any_parquet", "raw", suffix=".parquet"),  # a suffix alone: empty prefix
        Route("dated", "raw", prefix="logs/", glob="logs/20??-??-??/*.gz"),
        Route("other_bucket", "curated", prefix="sales/incoming/"),
    ]
)


@pytest.mark.parametrize(
    ("bucket", "key", "jobs"),
    [
        ("raw", "sales/incoming/2026-11-24.csv", ["sales_audit", "sales_ingest"]),
        ("raw", "sales/incoming/2026-11-24.txt", ["sales_audit"]),  # suffix must match
        ("raw", "sales/other.csv", ["sales_audit"]),
        ("raw", "marketing/events/a.json", ["events"]),
        ("raw", "marketing/events/a.json.tmp", []),
        ("raw", "x/y/z.parquet", ["any_parquet"]),
        ("raw", "logs/2026-11-24/a.gz", ["dated"]),
        ("raw", "logs/latest/a.gz", []),  # prefix fits, glob does not
        ("raw", "sales", []),  # shorter than every prefix
        ("curated", "sales/incoming/a.csv", ["other_bucket"]),
        ("unknown", "sales/incoming/a.csv", []),
    ],
)
def test_routes(bucket: str, key: str, jobs: list[str]) -> None:
    assert [r.dag_id for r in TABLE.match(bucket, key)] == jobs


def event(key: str, sequencer: str = "0065A1B2C3") -> dict:
    """An EventBridge S3 Object Created event, shaped as AWS documents it."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2026-11-24T06:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::raw"],
        "detail": {
            "version": "0",
            "bucket": {"name": "raw"},
            "object": {"key": key, "size": 5, "etag": "b1946ac9", "sequencer": sequencer},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "PutObject",
        },
    }


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("sales/incoming/my+file.csv", "sales/incoming/my file.csv"),  # a space
        ("sales/incoming/c%2B%2B.csv", "sales/incoming/c++.csv"),  # a literal plus
        ("sales/incoming/100%25.csv", "sales/incoming/100%.csv"),  # a literal percent
        ("sales/incoming/caf%C3%A9+v2.csv", "sales/incoming/café v2.csv"),  # UTF-8
        ("sales/incoming/plain-key_1.csv", "sales/incoming/plain-key_1.csv"),
    ],
)
def test_eventbridge_keys_are_form_decoded_as_s3_sends_them(sent: str, stored: str) -> None:
    """S3 URL-encodes the key it sends, a space as '+' ("Event message structure", Amazon S3
    User Guide: "red flower.jpg" becomes "red+flower.jpg"); AWS Lambda Powertools decodes an
    EventBridge S3 event's `detail.object.key` with `unquote_plus`
    (aws_lambda_powertools/utilities/data_classes/s3_event.py,
    `S3EventBridgeNotificationObject.key`)."""
    (obj,) = handler.parse_event(event(sent))
    assert obj.key == stored
    assert [r.dag_id for r in TABLE.match(obj.bucket, obj.key)] == ["sales_audit", "sales_ingest"]


def test_classic_notification_keys_use_plus_for_space() -> None:
    record = {
        "eventTime": "2026-11-24T06:00:00.000Z",
        "s3": {
            "bucket": {"name": "raw"},
            "object": {"key": "sales/incoming/my+file.csv", "size": 5, "eTag": "e",
                       "sequencer": "0A1"},
        },
    }  # fmt: skip
    (obj,) = handler.parse_event({"Records": [record]})
    assert obj.key == "sales/incoming/my file.csv"


def _versioned(key: str, sequencer: str, version_id: str | None) -> dict:
    payload = event(key, sequencer)
    if version_id:
        payload["detail"]["object"]["version-id"] = version_id
    return payload


def test_a_run_is_for_one_object_version() -> None:
    """Versioned bucket: the event's `detail.object.version-id` names the write ("EventBridge
    event message structure", Amazon S3 User Guide, ev-events). A redelivery (same version)
    asks for the same run; another version of the key, even with the same bytes (same ETag),
    gets its own; the version id is in the run's conf, for Glue to read exactly it."""
    (first,) = handler.parse_event(_versioned("sales/incoming/a.csv", "0065", "v1"))
    (again,) = handler.parse_event(_versioned("sales/incoming/a.csv", "0065", "v1"))
    (second,) = handler.parse_event(_versioned("sales/incoming/a.csv", "0066", "v2"))
    assert first.etag == second.etag  # the same bytes written twice
    assert first.run_id() == again.run_id() != second.run_id()
    assert first.conf()["version_id"] == "v1"
    assert first.run_id().startswith("s3__")


def test_without_versioning_the_sequencer_names_the_write() -> None:
    """An unversioned bucket sends no version id: the sequencer, which differs between two
    writes of a key, stands in; only a redelivery shares the run."""
    first, again, other = (event("sales/incoming/a.csv", s) for s in ("0065", "0065", "0066"))
    ids = [handler.parse_event(p)[0].run_id() for p in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]
    assert handler.parse_event(first)[0].conf()["version_id"] is None


def test_a_classic_notification_s_version_id_is_read() -> None:
    """S3's classic notification names it `s3.object.versionId` ("Event message structure",
    Amazon S3 User Guide)."""
    obj = {"key": "k.csv", "sequencer": "0A1", "versionId": "v9"}
    record = {"s3": {"bucket": {"name": "raw"}, "object": obj}}
    (created,) = handler.parse_event({"Records": [record]})
    assert created.version_id == "v9"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("not a dict", "not a JSON object"),
        ({}, "neither 'detail' nor 'Records'"),
        ({**event("k"), "source": "aws.ec2"}, "not an S3 Object Created event"),
        ({**event("k"), "detail": {"bucket": {"name": "raw"}, "object": {}}}, "no object key"),
        ({**event("k"), "detail": {"bucket": {"name": "raw"}, "object": {"key": "k"}}},
         "no sequencer"),
    ],
)  # fmt: skip
def test_malformed_events_say_what_is_wrong(bad, reason: str) -> None:
    with pytest.raises(handler.MalformedEvent, match=reason):
        handler.parse_event(bad)


def test_table_from_manifest(dev_manifest_for_trigger: dict) -> None:
    table = RoutingTable.from_manifest(dev_manifest_for_trigger)
    assert table.size == 3  # the three S3-triggered example jobs
    routes = table.match("glueflow-dev-raw-111111111111", "sales/incoming/2026-11-24.csv")
    assert [r.dag_id for r in routes] == ["sales_ingest"]
    # the agency's bucket, another account's (external_buckets.agency), routes as an own one
    routes = table.match("adsmetrics-exports-333333333333", "glueflow/spend/2026-11-24.csv")
    assert [r.dag_id for r in routes] == ["agency_spend_ingest"]
