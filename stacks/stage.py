"""GlueflowStage: every stack of one environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from configs import naming
from configs.glue_arguments import table_index
from configs.loader import REPO_ROOT, Platform
from stacks.catalog_shard_stack import CatalogShardStack
from stacks.job_shard_stack import JobShardStack
from stacks.monitoring_stack import MonitoringStack
from stacks.mwaa_files import build_mwaa_files
from stacks.network_stack import NetworkStack
from stacks.orchestration_stack import OrchestrationStack
from stacks.storage_stack import StorageStack
from stacks.trigger_stack import TriggerStack


class GlueflowStage(Stage):
    """One environment, as stacks named `<prefix>-<env>-<part>`, deployed in this order:

    storage (keys, buckets, Glue scripts), network (VPC, endpoints, flow logs), one stack per
    non-empty job shard (Glue jobs), orchestration (MWAA, DAGs, manifest), triggers (S3 events
    -> trigger Lambda -> DAG runs), and monitoring (the dashboard and the environment's alarms).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        platform: Platform,
        manifest_file: Path,
        glue_library: Path,
        build_folder: Path,
        repo_root: Path = REPO_ROOT,
        **kwargs: Any,
    ) -> None:
        env = platform.environment
        cfg = env.config
        super().__init__(
            scope, id_, env=Environment(account=cfg.account, region=cfg.region), **kwargs
        )
        self.platform = platform
        tags = {**cfg.tags, "glueflow:env": env.name}
        for key, value in sorted(tags.items()):
            Tags.of(self).add(key, value)

        def stack_args(part: str, what: str) -> dict[str, Any]:
            return {
                "stack_name": naming.stack_name(cfg.name_prefix, env.name, part),
                "description": f"Glueflow {env.name}: {what}",
            }

        self.storage = StorageStack(
            self,
            "Storage",
            env_name=env.name,
            environment=cfg,
            glue_scripts_dir=repo_root / "glue_scripts",
            glue_library=glue_library,
            # Its own buckets only: an external bucket's notifications are its owner's
            # (stacks/source_stack.py).
            event_source_buckets=frozenset(
                job.trigger.s3.bucket
                for job in platform.jobs.values()
                if job.trigger.s3 and job.trigger.s3.bucket in cfg.buckets
            ),
            **stack_args("storage", "KMS keys, buckets, Glue scripts"),
        )
        shared = {
            "log_retention": self.storage.log_retention,
            "removal_policy": self.storage.removal_policy,
        }
        self.network = NetworkStack(
            self,
            "Network",
            environment=cfg,
            jobs=platform.jobs,
            log_key=self.storage.platform_key,
            **shared,
            **stack_args("network", "private VPC, endpoints, flow logs"),
        )

        shards: dict[int, dict[str, Any]] = {}
        for name, job in platform.jobs.items():
            shards.setdefault(naming.job_shard_for(name, cfg.job_shards), {})[name] = job
        # Each table, by location, and the first job (by name) that writes it, whose shard
        # creates it; a job reading that location reads the table.
        tables = table_index(platform.jobs)
        self.job_shards: dict[int, JobShardStack] = {}
        self.catalog_shards: dict[int, CatalogShardStack] = {}
        for shard, jobs in sorted(shards.items()):
            part = naming.job_shard_part(shard)
            self.job_shards[shard] = JobShardStack(
                self,
                f"Jobs{shard:03d}",
                shard=shard,
                env_name=env.name,
                environment=cfg,
                jobs=jobs,
                tables=tables,
                data_key=self.storage.data_key,
                log_key=self.storage.platform_key,
                **shared,
                **stack_args(part, f"Glue jobs, shard {shard} of {cfg.job_shards}"),
            )
            owns_tables = any(
                tables[(out.bucket, out.prefix)][1] == name
                for name, job in jobs.items()
                for out in job.outputs
            )
            if not owns_tables:  # CloudFormation refuses a template without resources
                continue
            self.catalog_shards[shard] = CatalogShardStack(
                self,
                f"Tables{shard:03d}",
                env_name=env.name,
                environment=cfg,
                jobs=jobs,
                tables=tables,
                **stack_args(
                    naming.catalog_shard_part(shard),
                    f"Glue Data Catalog tables, shard {shard} of {cfg.job_shards}",
                ),
            )
            # Its tables need the database.
            self.catalog_shards[shard].add_stack_dependency(self.storage)

        # requirements.txt, and plugins.zip when a step needs a wheel MWAA lacks.
        mwaa_files = build_mwaa_files(platform.jobs, build_folder / "mwaa", repo_root=repo_root)
        self.orchestration = OrchestrationStack(
            self,
            "Orchestration",
            env_name=env.name,
            environment=cfg,
            vpc=self.network.network.vpc,
            subnet_ids=self.network.network.subnet_ids,
            clients_security_group=self.network.network.clients_security_group,
            platform_key=self.storage.platform_key,
            data_key=self.storage.data_key,
            dags_dir=repo_root / "dags",
            manifest_file=manifest_file,
            requirements_file=mwaa_files.requirements,
            plugins_file=mwaa_files.plugins,
            tags=tags,
            jobs=platform.jobs,
            **shared,
            **stack_args("orchestration", "MWAA environment, DAGs and manifest"),
        )
        self.triggers = TriggerStack(
            self,
            "Triggers",
            env_name=env.name,
            environment=cfg,
            jobs=platform.jobs,
            manifest_file=manifest_file,
            bundle_dir=build_folder / "trigger_lambda",
            vpc=self.network.network.vpc,
            subnets=self.network.network.subnets,
            clients_security_group=self.network.network.clients_security_group,
            key=self.storage.platform_key,
            alert_topic=self.storage.alert_topic,
            **shared,
            **stack_args("triggers", "S3 events -> trigger Lambda -> MWAA DAG runs"),
        )
        self.triggers.node.add_dependency(self.orchestration)
        self.monitoring = MonitoringStack(
            self,
            "Monitoring",
            env_name=env.name,
            environment=cfg,
            alert_topic=self.storage.alert_topic,
            key=self.storage.platform_key,
            trigger_function=self.triggers.trigger.function,
            intake_queue=self.triggers.trigger.intake,
            dead_letter_queues={
                "trigger Lambda": self.triggers.trigger.dead_letter_queue,
                "trigger rules": self.triggers.rule_dead_letters,
                "Glue run alerts": self.storage.glue_failures_dead_letters,
                # Table Published events a consumer's bus refused (decision 20).
                **(
                    {"table forwarding": self.triggers.table_forward_dead_letters}
                    if self.triggers.table_forwards
                    else {}
                ),
            },
            glue_failures_rule=self.storage.glue_failures,
            other_alarms=[*self.storage.alarms, *self.triggers.alarms],
            **shared,
            **stack_args("monitoring", "alert notifier, dashboard and alarms"),
        )
        # Last: its scheduler heartbeat alarm treats a missing MWAA as a stopped scheduler.
        self.monitoring.node.add_dependency(self.triggers)
        # MWAA's tasks start jobs by name; the jobs must exist before DAGs can run them.
        # DAG tasks start jobs by name, and publish to their tables by name.
        for shard_stack in [*self.job_shards.values(), *self.catalog_shards.values()]:
            self.orchestration.node.add_dependency(shard_stack)
        self.orchestration.node.add_dependency(self.storage)
