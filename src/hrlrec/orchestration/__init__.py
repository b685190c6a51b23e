"""Orchestration: what the Airflow DAG's tasks call, the failure notifier, and per-day versioning."""
