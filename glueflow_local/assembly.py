"""Reading what ships from a synthesized cloud assembly (cdk.out), as CloudFormation and the
CDK CLI would: templates by stack name, file assets by the object key a template names, and
the folders a BucketDeployment writes.

The layout is the cloud assembly schema's (aws-cdk-lib's cloud-assembly-schema):
`manifest.json` lists the Stage's nested assembly (`cdk:cloud-assembly`, `directoryName`);
its own `manifest.json` lists each stack (`aws:cloudformation:stack`, `templateFile`,
`stackName`) and its asset manifest (`cdk:asset-manifest`, `file`), whose `files` map an
asset hash to a `source.path` with `packaging` `zip` (a folder, zipped at publish) or `file`.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

BUCKET_DEPLOYMENT = "Custom::CDKBucketDeployment"


@dataclass(frozen=True)
class LambdaBundle:
    """A Lambda function as packaged: its code folder, handler and environment variables."""

    code_dir: Path
    handler: str
    environment: dict[str, Any]
    timeout_seconds: int
    runtime: str


class CloudAssembly:
    """One environment's stacks in a synthesized cloud assembly."""

    def __init__(self, outdir: Path, env: str) -> None:
        self.outdir = Path(outdir)
        self.env = env
        top = _read_json(self.outdir / "manifest.json")
        nested = top["artifacts"].get(f"assembly-{env}")
        if nested is None:
            raise KeyError(f"no Stage for environment {env!r} in {self.outdir}")
        self.dir = self.outdir / nested["properties"]["directoryName"]
        self.manifest = _read_json(self.dir / "manifest.json")

    @cached_property
    def stack_artifacts(self) -> dict[str, dict[str, Any]]:
        """Stack name -> its artifact entry, in the manifest's (dependency) order."""
        return {
            artifact["properties"]["stackName"]: {"id": artifact_id, **artifact}
            for artifact_id, artifact in self.manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }

    def template(self, stack_name: str) -> dict[str, Any]:
        artifact = self.stack_artifacts[stack_name]
        return _read_json(self.dir / artifact["properties"]["templateFile"])

    @cached_property
    def templates(self) -> dict[str, dict[str, Any]]:
        return {name: self.template(name) for name in self.stack_artifacts}

    @cached_property
    def accounts(self) -> dict[str, str]:
        """Stack name -> the account it deploys to (its `aws://<account>/<region>`)."""
        return {
            name: artifact["environment"].removeprefix("aws://").split("/", 1)[0]
            for name, artifact in self.stack_artifacts.items()
        }

    def metadata(self, entry_type: str) -> list[tuple[str, Any]]:
        """(construct path, data) of every construct metadata entry of a type, from each
        stack's metadata (its `additionalMetadataFile`, or the manifest's `metadata`)."""
        found = []
        for artifact in self.stack_artifacts.values():
            extra = artifact.get("additionalMetadataFile")
            entries = _read_json(self.dir / extra) if extra else artifact.get("metadata", {})
            found += [(path, e.get("data")) for path, listed in entries.items()
                      for e in listed if e["type"] == entry_type]  # fmt: skip
        return found

    def resources(self, resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(stack name, logical id, properties) of every resource of a type."""
        return [
            (stack, logical_id, resource.get("Properties", {}))
            for stack, template in self.templates.items()
            for logical_id, resource in template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        ]

    def asset_source(self, stack_name: str, object_key: str) -> tuple[Path, str]:
        """The local path and packaging of the asset a template names by S3 object key."""
        artifact = self.stack_artifacts[stack_name]
        asset_manifest_id = next(
            dep
            for dep in artifact.get("dependencies", [])
            if self.manifest["artifacts"][dep]["type"] == "cdk:asset-manifest"
        )
        assets = _read_json(
            self.dir / self.manifest["artifacts"][asset_manifest_id]["properties"]["file"]
        )
        asset_hash = object_key.split(".", 1)[0]
        source = assets["files"][asset_hash]["source"]
        return (self.dir / source["path"]).resolve(), source.get("packaging", "file")

    def bucket_deployment(self, key_prefix: str) -> tuple[str, dict[str, Any]]:
        """The one BucketDeployment that writes `key_prefix` (stack name, properties)."""
        found = [
            (stack, props)
            for stack, _, props in self.resources(BUCKET_DEPLOYMENT)
            if props.get("DestinationBucketKeyPrefix") == key_prefix
        ]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} deployments write {key_prefix!r}, expected 1")
        return found[0]

    def deployed_folder(self, key_prefix: str, target: Path) -> Path:
        """What the BucketDeployment of `key_prefix` leaves under it: each source unpacked, in
        order, into one folder (later sources overwrite earlier ones, as the handler does),
        and with pruning nothing else."""
        stack, props = self.bucket_deployment(key_prefix)
        if props.get("Exclude") or props.get("Include"):
            raise AssertionError(f"{key_prefix!r}: deploy-time filters are not modelled here")
        target.mkdir(parents=True, exist_ok=True)
        for object_key in props["SourceObjectKeys"]:
            path, packaging = self.asset_source(stack, object_key)
            if packaging == "zip" and path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True)
            elif zipfile.is_zipfile(path):
                with zipfile.ZipFile(path) as archive:
                    archive.extractall(target)
            else:
                raise AssertionError(f"{object_key}: a deployment source must be a zip")
        return target

    def lambda_bundle(self, stack_name: str, description_startswith: str) -> LambdaBundle:
        """The Lambda function of a stack whose Description starts with the given text."""
        (props,) = [
            props
            for stack, _, props in self.resources("AWS::Lambda::Function")
            if stack == stack_name
            and str(props.get("Description", "")).startswith(description_startswith)
        ]
        path, _ = self.asset_source(stack_name, props["Code"]["S3Key"])
        return LambdaBundle(
            code_dir=path,
            handler=props["Handler"],
            environment=props.get("Environment", {}).get("Variables", {}),
            timeout_seconds=int(props.get("Timeout", 3)),
            runtime=props["Runtime"],
        )

    def glue_jobs(self) -> dict[str, dict[str, Any]]:
        """Glue job name -> its AWS::Glue::Job properties."""
        return {props["Name"]: props for _, _, props in self.resources("AWS::Glue::Job")}


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
