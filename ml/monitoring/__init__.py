"""Model monitoring: drift of every scored window against the drift reference stored with the model
version (`ml.drift_metrics`), performance once labels are final (`ml.model_performance_daily`), and
the verdicts the asset checks and the retraining sensor act on."""
