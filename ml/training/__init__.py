"""Training: fitting a model (fit), its test-window metrics, the promotion gate, the model card
(report), and one training run end to end (run)."""
