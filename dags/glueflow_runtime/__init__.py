"""What the factory DAG runs on MWAA. Standard library and Airflow only; no network at import."""
