"""The local run's second account: the agency's (dev's external_buckets.agency), from its own
stack as `make deploy-source SYNTH_ONLY=1` synthesizes it and dev's templates. Each hop is the
shipped one, and each refuses what AWS would refuse:
- S3 writes in the source's account; this account does not see the bucket as its own
  (moto keeps accounts apart by the key a request is signed with, moto/core/responses.py
  `get_current_account`);
- the source's rule forwards only the prefixes it declares, and this bus takes the event only
  from the role its policy names ("Example policy: Send events to a custom bus in a different
  account", EventBridge User Guide);
- the bucket's policy lets only the job's role read, only under its prefix ("Example 2: Bucket
  owner granting cross-account bucket permissions", Amazon S3 User Guide).
The whole path, file to published table, is `make scenario` (scenarios/cross_account.yaml).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from glueflow_local.cloud import LocalCloud
from glueflow_local.errors import LocalRunError
from glueflow_local.events import object_created
from tests.local.conftest import local_cloud
from tests.synth import Synthesized

pytestmark = pytest.mark.slow  # moto's server with dev's resources, and a synth of the source

AGENCY = "333333333333"
BUCKET = f"adsmetrics-exports-{AGENCY}"
ROLE = "arn:aws:iam::111111111111:role/glueflow-dev-agency_spend_ingest"


@pytest.fixture(scope="module")
def cloud(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with local_cloud(dev, tmp_path_factory.mktemp("cross"), event_sources=False) as local:
        yield local


def landed(cloud: LocalCloud, key: str) -> dict:
    put = cloud.client("s3", account=AGENCY).put_object(Bucket=BUCKET, Key=key, Body=b"x")
    return object_created(AGENCY, cloud.region, BUCKET, key, 1, put["ETag"])


def test_the_bucket_is_the_agencys(cloud: LocalCloud) -> None:
    mine = {b["Name"] for b in cloud.client("s3").list_buckets()["Buckets"]}
    theirs = {b["Name"] for b in cloud.client("s3", account=AGENCY).list_buckets()["Buckets"]}

    assert BUCKET in theirs
    assert BUCKET not in mine
    assert "glueflow-dev-raw-111111111111" in mine - theirs


def test_only_the_declared_prefix_is_forwarded_and_matches_here(cloud: LocalCloud) -> None:
    event = landed(cloud, "glueflow/spend/2026-11-23.csv")
    assert cloud.sources.forward(event)
    assert [r.logical_id for r in cloud.matching(event)] == [
        "ObjectCreatedAdsmetricsExports3333333333332BD4ED88"
    ]

    assert not cloud.sources.forward(landed(cloud, "exports/2026-11-23.csv"))


def test_this_bus_refuses_the_event_without_its_statement(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same event, the bus's policy emptied: EventBridge refuses another account's
    PutEvents unless a statement allows it ("Permissions for event buses in Amazon
    EventBridge")."""
    event = landed(cloud, "glueflow/spend/2026-11-24.csv")
    monkeypatch.setattr(cloud.sources, "bus_statements", list)

    assert not cloud.sources.forward(event)


def test_the_bucket_policy_lets_the_job_role_read_its_prefix_only(cloud: LocalCloud) -> None:
    keys = ["glueflow/spend/2026-11-23.csv"]
    cloud.sources.check_read(ROLE, BUCKET, "glueflow/spend/", keys)

    other = "arn:aws:iam::111111111111:role/glueflow-dev-sales_ingest"
    with pytest.raises(LocalRunError, match=r"AccessDenied: .*sales_ingest may not s3:ListBucket"):
        cloud.sources.check_read(other, BUCKET, "glueflow/spend/", keys)
    with pytest.raises(LocalRunError, match=r"may not s3:GetObject .*exports/a\.csv"):
        cloud.sources.check_read(ROLE, BUCKET, "glueflow/spend/", ["exports/a.csv"])
