"""What crosses between this environment and other Glueflow deployments through Table Published
events: the tables of others whose events start jobs here (and who may send them), and the
accounts this environment forwards its own tables' events to. The stacks and the manifest build
from this one account of it. docs/architecture.md, decision 20.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from configs import naming
from configs.models import EnvironmentConfig, ExternalTable, JobConfig


@dataclass(frozen=True)
class Subscription:
    """An external table that starts jobs of this environment."""

    key: str
    table: ExternalTable
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class Producer:
    """Another deployment whose Table Published events start jobs here."""

    account: str
    name_prefix: str
    environment: str
    forward_role_arn: str  # the role its forwarding rule to this account sends as
    statement_id: str  # this environment's statement for it on the default bus's policy
    same_account: bool  # its events are on this bus already: no statement, no forwarding


@dataclass(frozen=True)
class Forward:
    """One consumer account that gets this environment's Table Published events."""

    account: str
    tables: tuple[str, ...]
    rule_name: str
    role_name: str
    bus_arn: str  # the consumer account's default bus


def subscriptions(cfg: EnvironmentConfig, jobs: Mapping[str, JobConfig]) -> dict[str, Subscription]:
    """The external tables that some job's `trigger.table` names, by key."""
    found: dict[str, list[str]] = {}
    for name, job in sorted(jobs.items()):
        if job.trigger.table is not None and job.trigger.table in cfg.external_tables:
            found.setdefault(job.trigger.table, []).append(name)
    return {
        key: Subscription(key, cfg.external_tables[key], tuple(jobs))
        for key, jobs in sorted(found.items())
    }


def producers(
    cfg: EnvironmentConfig, env_name: str, jobs: Mapping[str, JobConfig]
) -> dict[tuple[str, str, str], Producer]:
    """The deployments whose tables start jobs here, by (account, name_prefix, environment)."""
    partition = naming.partition_for(cfg.region)
    found = {}
    for sub in subscriptions(cfg, jobs).values():
        table = sub.table
        ident = (table.account, table.name_prefix, table.environment)
        role = naming.table_forward_role_name(table.name_prefix, table.environment, cfg.account)
        found.setdefault(ident, Producer(
            account=table.account,
            name_prefix=table.name_prefix,
            environment=table.environment,
            forward_role_arn=naming.role_arn(partition, table.account, role),
            statement_id=naming.table_bus_statement_id(
                cfg.name_prefix, env_name, table.account, table.name_prefix, table.environment
            ),
            same_account=table.account == cfg.account,
        ))  # fmt: skip
    return dict(sorted(found.items()))


def forwards(cfg: EnvironmentConfig, env_name: str) -> list[Forward]:
    """Each consumer account's forwarding, as `table_consumers` lists it."""
    partition = naming.partition_for(cfg.region)
    return [
        Forward(
            account=consumer.account,
            tables=tuple(sorted(consumer.tables)),
            rule_name=naming.table_forward_rule_name(cfg.name_prefix, env_name, consumer.account),
            role_name=naming.table_forward_role_name(cfg.name_prefix, env_name, consumer.account),
            bus_arn=naming.default_bus_arn(partition, cfg.region, consumer.account),
        )
        for consumer in sorted(cfg.table_consumers, key=lambda c: c.account)
    ]
