"""GlueflowStage: every stack of one environment."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from configs import naming
from configs.loader import Platform
from stacks.jobs_stack import JobsStack


class GlueflowStage(Stage):
    """One environment: its stacks, named `<prefix>-<env>-<part>`."""

    def __init__(self, scope: Construct, id_: str, *, platform: Platform, **kwargs: Any) -> None:
        env = platform.environment
        cfg = env.config
        super().__init__(
            scope, id_, env=Environment(account=cfg.account, region=cfg.region), **kwargs
        )
        for key, value in sorted({**cfg.tags, "glueflow:env": env.name}.items()):
            Tags.of(self).add(key, value)
        self.jobs = JobsStack(
            self,
            "Jobs",
            stack_name=naming.stack_name(cfg.name_prefix, env.name, "jobs"),
            description=f"Glueflow {env.name}: Glue jobs",
            env_name=env.name,
            name_prefix=cfg.name_prefix,
            artifacts_bucket=naming.platform_bucket_name(cfg, env.name, "artifacts"),
            jobs=platform.jobs,
        )
