"""Alerts: one notice per incident to the configured sinks, and one when it clears."""
