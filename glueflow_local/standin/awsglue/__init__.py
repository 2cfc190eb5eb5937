"""A stand-in for AWS Glue's `awsglue` library: only what Glueflow's scripts use.

Not the real library (github.com/awslabs/aws-glue-libs, Amazon Software License): written here
to reproduce its behaviour where Glueflow depends on it, chiefly how `getResolvedOptions`
treats the arguments Glue itself passes (`utils.py`). Each module names the upstream file and
branch it follows. The local run (glueflow_local.glue) and the tests put
`glueflow_local/standin` on sys.path, as Glue has the real library on its path.
"""
