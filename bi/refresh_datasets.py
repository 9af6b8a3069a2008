"""Refresh every dataset's column list from the served copy (run in Superset's environment).

``telco_mart.bi`` runs this after importing ``bi/assets/``: the YAML carries the columns as
they were at export, and a mart that gained a column since shows it without a new export.
Columns the charts use keep their settings; a column the served copy no longer has is
reported, and the chart that uses it shows the error in the dashboard.
"""

from __future__ import annotations

from superset.app import create_app

app = create_app()

with app.app_context():
    from superset import db
    from superset.connectors.sqla.models import SqlaTable

    refreshed, removed = 0, []
    for dataset in db.session.query(SqlaTable).all():
        calculated = {column.column_name for column in dataset.columns if column.expression}
        result = dataset.fetch_metadata()  # keeps calculated columns
        removed += [f"{dataset.table_name}.{column}" for column in result.removed if column not in calculated]
        refreshed += 1
    db.session.commit()
    print(f"{refreshed} datasets refreshed from the served copy" + (f"; columns gone: {removed}" if removed else ""))
