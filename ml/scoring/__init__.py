"""Scoring: batch scoring into DuckDB (batch), the compiled forest (compiled) and reason codes
(attribution)."""
