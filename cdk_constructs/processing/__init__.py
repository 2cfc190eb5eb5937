"""Processing constructs: Glue jobs."""
