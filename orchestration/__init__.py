"""Dagster definitions for the warehouse (see `orchestration.definitions`)."""
