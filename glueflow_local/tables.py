"""Another Glueflow deployment publishing a table this environment depends on, on this machine
(docs/architecture.md, decision 20; the scenario step `table_published`).

The producer is played, not run: its event is made by the shipped publish task's own code
(dags/glueflow_runtime/publish.py: `table_published_entry`, from the `TableWritten` and
`Published` a publish hands it), for the producer this environment's manifest names (a job's
`trigger: {table: <key>}`: account, region, environment, name_prefix, table). It crosses as on
AWS, each hop on the timeline:
1. the producer's publish task puts it on its own account's default bus: EventBridge wraps the
   entry in its envelope, with the producer's `account`;
2. the producer's forwarding rule (`<prefix>-<env>-tables-<consumer account>`) sends it to
   this account's default bus as its role of the same name (configs/naming.py), which this
   bus's policy must let in (glueflow_local/sources.py: `Sources.admits`, as for S3's
   forwarded events); a producer in this same account puts it on this bus itself;
3. this environment's rules see it (`LocalCloud.put_event`): the table's rule sends it to the
   intake queue, and the trigger Lambda starts the jobs with the run id of that publish.
The forwarding rule's pattern is the producer's deployment's (its `table_consumers`), which is
not synthesized here: it is taken to list the table, as it must for the consumer to get any.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from configs import naming
from glueflow_local.errors import LocalRunError
from glueflow_local.events import put_events_entry

if TYPE_CHECKING:
    from glueflow_local.cloud import LocalCloud

# What the played publish wrote: one day's partition of a few rows (an FX table's currencies).
ROWS = 3
PARTITION_COLUMN = "published_date"


@dataclass(frozen=True)
class Producer:
    """The deployment that publishes an external table, as this environment names it."""

    key: str  # this environment's key for the table (external_tables)
    account: str
    region: str
    environment: str
    name_prefix: str
    table: str

    @property
    def deployment(self) -> str:
        return f"{self.name_prefix}-{self.environment}"

    @property
    def database(self) -> str:
        return naming.catalog_database_name(self.name_prefix, self.environment)


def producer(manifest: dict[str, Any], key: str) -> Producer:
    """The producer of the external table `key`, from the triggers of the jobs it starts."""
    triggers = {
        job["trigger"]["key"]: job["trigger"]
        for job in manifest["jobs"].values()
        if job["trigger"].get("type") == "table"
    }
    if key not in triggers:
        raise LocalRunError(
            f"no job here is started by table {key!r}; tables that start jobs: "
            f"{', '.join(sorted(triggers)) or 'none'}"
        )
    found = triggers[key]
    return Producer(key, found["account"], found["region"], found["environment"],
                    found["name_prefix"], found["table"])  # fmt: skip


def published_event(producer: Producer) -> dict[str, Any]:
    """The event a publish of the producer's table puts on its bus: a new Airflow run and Glue
    run of the producer's, one partition of today's, through `table_published_entry`."""
    # The copy MWAA gets (the DAG folder LocalRun put on sys.path, or dags/ in the tests).
    from glueflow_runtime.publish import Published, table_published_entry
    from glueflow_runtime.validation_report import RUNS_FOLDER, PartitionWritten, TableWritten

    now = datetime.now(UTC)
    glue_run_id = f"jr_{secrets.token_hex(32)}"  # Glue's: jr_ and 64 hex digits
    run_id = f"manual__{now.isoformat()}"  # Airflow's id of a run started by hand
    # Where a producer's table would be: its own bucket, which this side never reads.
    bucket = f"{producer.name_prefix}-{producer.environment}-curated-{producer.account}"
    day = now.date().isoformat()
    written = TableWritten(
        table=producer.table,
        location=f"s3://{bucket}/{producer.table}/{RUNS_FOLDER}{glue_run_id}/",
        partition_columns=[PARTITION_COLUMN],
        replace="partitions",
        partitions=[PartitionWritten([day], f"{PARTITION_COLUMN}={day}/", ROWS)],
    )
    announce_as = {
        "environment": producer.environment,
        "name_prefix": producer.name_prefix,
        "account": producer.account,
        "region": producer.region,
        "partition": naming.partition_for(producer.region),
        "database": producer.database,
        # The producer's job is its own; named after its table here.
        "dag_id": producer.table,
    }
    entry = table_published_entry(
        announce_as, written, Published(producer.table, ROWS, 1, 0, 0), run_id, glue_run_id
    )
    return put_events_entry(entry, producer.account, producer.region)


def reaches(cloud: LocalCloud, producer: Producer, event: dict[str, Any]) -> bool:
    """Whether the event, on the producer's bus, reaches this environment's: forwarded by the
    producer's rule as its role, which this bus's policy must allow; or put here directly by a
    producer in this account."""
    if producer.account == cloud.account:
        cloud.timeline.say("event", f"{producer.deployment} is in this account: its Table "
                                    "Published event is on this bus already")  # fmt: skip
        return True
    partition = naming.partition_for(producer.region)
    rule = naming.table_forward_rule_name(producer.name_prefix, producer.environment,
                                          cloud.account)  # fmt: skip
    role = naming.role_arn(partition, producer.account, naming.table_forward_role_name(
        producer.name_prefix, producer.environment, cloud.account))  # fmt: skip
    return cloud.sources.admits(producer.account, rule, role, event)
