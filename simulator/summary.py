"""What a generation run wrote: rows and files per table, fraud rate, defects, wall time."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.schema import TABLES


@dataclass(frozen=True)
class GenerationSummary:
    """What `generate` wrote."""

    rows: dict[str, int]
    files: dict[str, int]
    payments: int
    authorized_payments: int
    authorized_fraud: int
    defects: dict[str, dict[str, int]]
    wall_seconds: float

    @property
    def fraud_rate(self) -> float:
        """Share of authorized payments that are truly fraudulent (oracle)."""
        return self.authorized_fraud / self.authorized_payments if self.authorized_payments else 0.0

    @property
    def total_files(self) -> int:
        return sum(self.files.values())

    def format(self) -> str:
        lines = [f"{'table':<16}{'rows':>12}{'files':>8}"]
        lines += [f"{t:<16}{self.rows[t]:>12,}{self.files[t]:>8,}" for t in TABLES]
        lines.append(f"{'total':<16}{sum(self.rows.values()):>12,}{self.total_files:>8,}")
        lines.append(
            f"payments generated (oracle): {self.payments:,}; authorized: {self.authorized_payments:,}; "
            f"fraud rate among authorized: {self.fraud_rate:.4%}"
        )
        injected = sum(
            n for kinds in self.defects.values() for k, n in kinds.items() if not k.endswith("not_landed")
        )
        lines.append(f"defect rows injected: {injected:,} (see oracle defects.json)")
        lines.append(f"wall time: {self.wall_seconds:.1f} s")
        return "\n".join(lines)
