"""Named points between writes whose order makes an interruption safe.

A module that writes in steps (stage, then rename; insert, then commit) marks the point between two
steps with `reached("score:in_transaction")`. The mark is a Python audit event (PEP 578,
`sys.audit`) named `warehouse.write_point`: without an audit hook it costs a function call, and a
tool that observes the process (a tracer, a profiler, the fault-injection tests) can act on it
without this package knowing. The names are stable: tests/reliability kills the process at each
one and proves that a rerun recovers.
"""

from __future__ import annotations

import sys

AUDIT_EVENT = "warehouse.write_point"


def reached(point: str) -> None:
    sys.audit(AUDIT_EVENT, point)
