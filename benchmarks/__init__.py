"""`make bench`: how Glueflow's cost grows from 5 to 2,000 jobs."""
