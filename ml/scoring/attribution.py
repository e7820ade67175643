"""Per-row feature contributions along each tree's decision path, for reason codes.

For every tree, a row's path from the root to its leaf moves the node value (LightGBM's
`internal_value`, the output the node would give as a leaf) at each split; that move is credited to
the split's feature. Summed over the trees, the contributions plus the trees' root values equal the
raw margin exactly, like SHAP values, but they cost one leaf lookup per tree instead of TreeSHAP's
walk over every path: about 100x less time on the fraud champion's flagged rows. The top features
differ from TreeSHAP's on many rows (path attribution credits only the splits on the row's own path,
weighted by where they sit): the top code agreed on 51-63% of the flagged rows. docs/benchmarks.md
has the figures.

The per-leaf tables are built once per model from `Booster.dump_model()`.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np


@dataclass(frozen=True)
class PathAttribution:
    leaf_contributions: list[np.ndarray]  # per tree: (leaves, features), the path credit of each leaf
    bias: float  # sum of the root values
    n_features: int

    @classmethod
    def from_booster(cls, booster: lgb.Booster) -> PathAttribution:
        dump = booster.dump_model()
        n_features = len(dump["feature_names"])
        tables, bias = [], 0.0
        for tree in dump["tree_info"]:
            root = tree["tree_structure"]
            table = np.zeros((max(tree["num_leaves"], 1), n_features))
            bias += _value(root)
            _credit(root, np.zeros(n_features), table)
            tables.append(table)
        return cls(tables, bias, n_features)

    def contributions(self, leaves: np.ndarray) -> np.ndarray:
        """(rows, features) contributions for the leaf indices `booster.predict(x, pred_leaf=True)`."""
        total = np.zeros((leaves.shape[0], self.n_features))
        for tree, table in enumerate(self.leaf_contributions):
            total += table[leaves[:, tree]]
        return total


def _value(node: dict) -> float:
    return float(node["leaf_value"] if "leaf_index" in node else node["internal_value"])


def _credit(node: dict, path: np.ndarray, table: np.ndarray) -> None:
    """Depth-first: `path` is the credit accumulated from the root down to `node`."""
    if "leaf_index" in node:
        table[node["leaf_index"]] = path
        return
    for child in (node["left_child"], node["right_child"]):
        step = path.copy()
        step[node["split_feature"]] += _value(child) - _value(node)
        _credit(child, step, table)


def top_reasons(contributions: np.ndarray, names: tuple[str, ...], top: int) -> list[list[str]]:
    """Names of the `top` features pushing each row's score up the most (positive credit only)."""
    order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
    chosen = np.take_along_axis(contributions, order, axis=1)
    return [
        [names[j] for j, credit in zip(row, credits, strict=True) if credit > 0]
        for row, credits in zip(order.tolist(), chosen.tolist(), strict=True)
    ]
