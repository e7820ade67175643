"""The one Dagster `Definitions` object that `workspace.yaml` loads.

The asset graph (dbt models, training, scoring, publish) is assembled here by the orchestration
issue; until then `make run` calls dbt directly and this object is empty.
"""

import dagster as dg

defs = dg.Definitions()
