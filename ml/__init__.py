"""The ML layer: declarative LightGBM models trained on dbt feature tables.

Empty until the ML issue lands; the package exists so the layout and the install are stable.
"""
