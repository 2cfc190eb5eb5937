"""Run one Glue script as Glue's driver would, on local PySpark.

`python run_script.py <stand-in dir> <extra-py-files, comma-separated> <script> [args...]`

As on Glue: the `awsglue` library and each `--extra-py-files` entry are on sys.path, sys.argv
is `[script, --JOB_ID, .., --JOB_RUN_ID, .., --JOB_NAME, .., arguments...]`, and the script
runs as `__main__`; an exception it raises ends the process with its traceback on stderr.
The SparkSession is made first, local, so the script's `getOrCreate()` finds it.

With the local S3 staging (`AWSGLUE_STANDIN_S3_ROOT`, see awsglue/context.py), what the
script writes to S3 through boto3 (PutObject, CopyObject, a multipart upload, DeleteObject)
goes to moto and, for a staged bucket, to its folder too: on Glue, Spark reads what boto3
wrote a moment before, and so it does here. Each mirrored object is listed in
`<root>/.mirrored.jsonl`, so that the run's end does not upload it again.
"""

import json
import os
import runpy
import sys

MIRROR_LIST = ".mirrored.jsonl"
# `make try` (glueflow_local/try_job.py): S3 served from the staged folders, and what to show
# once the script is done, as JSON.
TRY_VARIABLE = "GLUEFLOW_TRY"
WRITES = ("PutObject", "CopyObject", "CompleteMultipartUpload")


def mirror_s3_writes(root: str) -> None:
    """Keep the staged bucket folders in step with the script's boto3 writes to moto."""
    import boto3

    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events

    def remember(params, context, **_):
        context["glueflow_object"] = (params.get("Bucket"), params.get("Key"))

    def mirrored(http_response, context, model, **_):
        bucket, key = context.get("glueflow_object") or (None, None)
        if not bucket or not key or http_response.status_code >= 300:
            return
        if not os.path.isdir(os.path.join(root, bucket)):
            return  # a bucket the run did not stage
        path = os.path.join(root, bucket, *key.split("/"))
        if model.name == "DeleteObject":
            if os.path.isfile(path):
                os.remove(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        boto3.client("s3").download_file(bucket, key, path)
        stat = os.stat(path)
        with open(os.path.join(root, MIRROR_LIST), "a", encoding="utf-8") as listing:
            listing.write(json.dumps([bucket, key, stat.st_size, stat.st_mtime_ns]) + "\n")

    for operation in (*WRITES, "DeleteObject"):
        events.register(f"before-parameter-build.s3.{operation}", remember)
        events.register(f"after-call.s3.{operation}", mirrored)


def serve_s3_from_folders(root: str) -> None:
    """`make try`: the script's boto3 S3 writes and reads (the validation report) go to the
    staged bucket folders, with no S3 and no network; any other AWS call fails, naming it.

    botocore's `before-call` event: a handler's (http response, parsed response) stands in for
    the request (botocore/client.py, `_make_api_call`)."""
    import boto3
    from botocore.awsrequest import AWSResponse

    boto3.setup_default_session()
    events = boto3.DEFAULT_SESSION.events

    def remember(params, context, **_):
        context["glueflow_params"] = dict(params)

    def path_of(params):
        return os.path.join(root, params["Bucket"], *params["Key"].split("/"))

    def answer(model, context, **_):
        params = context.get("glueflow_params") or {}
        ok = AWSResponse("file://" + root, 200, {}, None)
        if model.name == "PutObject":
            body = params.get("Body", b"")
            data = body.read() if hasattr(body, "read") else body
            path = path_of(params)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(data.encode() if isinstance(data, str) else data)
            return ok, {"ETag": '"local"'}
        if model.name == "DeleteObject":
            if os.path.isfile(path_of(params)):
                os.remove(path_of(params))
            return ok, {}
        raise RuntimeError(
            f"s3:{model.name} is not served by `make try` (it serves PutObject and "
            "DeleteObject from local folders); run the job with make run-local"
        )

    def refuse(model, **_):
        raise RuntimeError(
            f"{model.service_model.service_name}:{model.name}: `make try` runs the script "
            "without AWS; a script that calls other AWS APIs runs with make run-local"
        )

    events.register("before-parameter-build.s3", remember)
    events.register("before-call.s3", answer)
    events.register("before-call", refuse)


def main() -> None:
    standin, extra, script, *args = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # not this file's folder
    sys.path[1:1] = [standin, *filter(None, extra.split(","))]
    from pyspark.sql import SparkSession

    cores = os.environ.get("GLUEFLOW_LOCAL_SPARK_CORES", "2")
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(os.path.basename(script))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # Glue's driver log has no bars
        .config("spark.sql.shuffle.partitions", cores)
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    root = os.environ.get("AWSGLUE_STANDIN_S3_ROOT")
    trying = os.environ.get(TRY_VARIABLE)
    if root and trying:
        serve_s3_from_folders(root)
    elif root:
        mirror_s3_writes(root)
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
        if trying:
            from try_show import show  # beside this file, on sys.path with the stand-in

            show(spark, json.loads(trying))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
