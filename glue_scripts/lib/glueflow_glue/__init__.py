"""Helpers shared by Glueflow's Glue scripts, shipped to Glue with --extra-py-files."""
