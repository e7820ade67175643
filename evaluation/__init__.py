"""Evaluation against the simulator's ground truth (data/oracle/).

The only code allowed to read the oracle. Pipeline code (warehouse/, ml/, orchestration/) never does;
tests/test_repo_contract.py enforces it.
"""
