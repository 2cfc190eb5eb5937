"""Another deployment's Table Published event crossing to dev (docs/architecture.md, decision 20;
glueflow_local/tables.py), without Airflow: treasury's prod (dev's external_tables.treasury_fx,
account 555555555555) publishes fx_rates.
- the event is what the shipped publish task puts (glueflow_runtime.publish:
  table_published_entry), in EventBridge's envelope with the producer's account, and dev's rule
  for the table matches it;
- dev's bus takes it only from the producer's forwarding role, as its policy names it
  ("Permissions for event buses in Amazon EventBridge", EventBridge User Guide): a policy
  without that statement refuses it, and a producer in dev's own account needs none.
The whole path, to sales_daily_eur's one run for a redelivered event, is `make scenario`
(scenarios/table_published.yaml).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from configs.manifest import manifest_path
from glueflow_local import tables
from glueflow_local.cloud import LocalCloud
from glueflow_local.errors import LocalRunError
from tests.local.conftest import local_cloud
from tests.synth import Synthesized

pytestmark = pytest.mark.slow  # moto's server with dev's resources, and a synth of the source

TREASURY = "555555555555"
ROLE = f"arn:aws:iam::{TREASURY}:role/glueflow-prod-tables-111111111111"
STATEMENT = f"glueflow-dev-tables-{TREASURY}-glueflow-prod"


@pytest.fixture(scope="module")
def cloud(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with local_cloud(dev, tmp_path_factory.mktemp("tables"), event_sources=False) as local:
        yield local


@pytest.fixture(scope="module")
def treasury(dev: Synthesized) -> tables.Producer:
    manifest = json.loads(manifest_path(dev.outdir, "dev").read_text())
    return tables.producer(manifest, "treasury_fx")


def test_the_event_is_the_publish_tasks_from_the_producers_account(
    cloud: LocalCloud, treasury: tables.Producer
) -> None:
    event = tables.published_event(treasury)

    assert (event["source"], event["detail-type"], event["account"]) == (
        "glueflow", "Table Published", TREASURY,
    )  # fmt: skip
    assert event["resources"] == [f"arn:aws:glue:eu-west-1:{TREASURY}:table/glueflow_prod/fx_rates"]
    detail = event["detail"]
    assert {k: detail[k] for k in ("environment", "name_prefix", "account", "table")} == {
        "environment": "prod", "name_prefix": "glueflow", "account": TREASURY, "table": "fx_rates",
    }  # fmt: skip
    assert detail["run_id"].startswith("manual__")
    assert detail["glue_run_id"].startswith("jr_")
    (rule,) = cloud.matching(event)
    assert rule.logical_id.startswith("TablePublishedTreasuryFx")


def test_the_bus_takes_it_from_the_forwarding_role(
    cloud: LocalCloud, treasury: tables.Producer
) -> None:
    event = tables.published_event(treasury)

    assert tables.reaches(cloud, treasury, event)
    (said,) = cloud.timeline.find("event", f"as {ROLE}")
    assert f"allowed by {STATEMENT}" in said[1]


def test_the_bus_refuses_it_when_its_policy_does_not_name_the_role(
    cloud: LocalCloud, treasury: tables.Producer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dev's bus policy without treasury's statement (the agency's, for S3's events, stays):
    EventBridge refuses another account's PutEvents that no statement allows."""
    statements = cloud.sources.bus_statements()
    assert STATEMENT in {s["Sid"] for s in statements}
    others = [s for s in statements if s["Sid"] != STATEMENT]
    assert others  # the agency's statement, which names another account and role
    monkeypatch.setattr(cloud.sources, "bus_statements", lambda: others)

    assert not tables.reaches(cloud, treasury, tables.published_event(treasury))
    assert cloud.timeline.find("event", f"bus refuses rule glueflow-prod-tables-111111111111's "
                                        f"event from {ROLE}: no statement allows it")  # fmt: skip


def test_a_producer_in_this_account_needs_no_statement(
    cloud: LocalCloud, treasury: tables.Producer, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = dataclasses.replace(treasury, account=cloud.account)
    monkeypatch.setattr(cloud.sources, "bus_statements", list)

    assert tables.reaches(cloud, here, tables.published_event(here))


def test_an_unknown_table_key_names_the_known_ones(dev: Synthesized) -> None:
    manifest = json.loads(manifest_path(dev.outdir, "dev").read_text())
    with pytest.raises(LocalRunError, match=r"no job here is started by table 'fx'.*treasury_fx"):
        tables.producer(manifest, "fx")
