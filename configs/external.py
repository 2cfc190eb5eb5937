"""What crosses between this environment and each external bucket's account: who here reads
which of its prefixes, and which prefixes start jobs. Both sides are built from this, so they
name the same roles and prefixes: this account's stacks (the job roles' reads, the bus policy,
the rules) and the source's (`stacks/source_stack.py`, `make source-policy`).
docs/architecture.md, decision 19.
"""

from __future__ import annotations

from dataclasses import dataclass

from configs import naming
from configs.loader import Platform
from configs.models import ExternalBucket


@dataclass(frozen=True)
class Reader:
    """A role of this environment that reads under some of an external bucket's prefixes."""

    role_name: str
    role_arn: str
    prefixes: tuple[str, ...]
    why: str  # "job <name>"


@dataclass(frozen=True)
class Source:
    """One external bucket as this environment uses it."""

    key: str
    bucket: ExternalBucket
    readers: tuple[Reader, ...]
    trigger_prefixes: tuple[str, ...]  # what its forwarding rule forwards ('' never: validated)
    forward_rule_name: str
    forward_role_arn: str
    this_bus_arn: str  # where the source forwards to: this environment's default bus

    @property
    def used(self) -> bool:
        return bool(self.readers or self.trigger_prefixes)


def sources(platform: Platform) -> dict[str, Source]:
    """Every external bucket the environment declares, with what its jobs do with it."""
    env = platform.environment
    cfg = env.config
    partition = naming.partition_for(cfg.region)
    found = {}
    for key, bucket in sorted(cfg.external_buckets.items()):
        readers = []
        triggers: set[str] = set()
        for name, job in sorted(platform.jobs.items()):
            prefixes = sorted({loc.prefix for loc in job.inputs if loc.bucket == key})
            if prefixes:
                role = naming.glue_job_role_name(cfg.name_prefix, env.name, name)
                readers.append(
                    Reader(role, naming.role_arn(partition, cfg.account, role), tuple(prefixes),
                           f"job {name}")
                )  # fmt: skip
            if job.trigger.s3 is not None and job.trigger.s3.bucket == key:
                triggers.add(job.trigger.s3.prefix or "")
        forward_role = naming.source_forward_role_name(cfg.name_prefix, env.name, key)
        found[key] = Source(
            key=key,
            bucket=bucket,
            readers=tuple(readers),
            trigger_prefixes=tuple(sorted(triggers)),
            forward_rule_name=naming.source_forward_rule_name(cfg.name_prefix, env.name, key),
            forward_role_arn=naming.role_arn(partition, bucket.account, forward_role),
            this_bus_arn=naming.default_bus_arn(partition, cfg.region, cfg.account),
        )
    return found
