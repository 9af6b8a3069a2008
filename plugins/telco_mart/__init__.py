"""telco_mart: the reusable code behind the operator marketing warehouse.

Airflow puts ``plugins/`` on ``sys.path`` and pyproject installs the same package, so DAGs,
tests and the ``telco-mart`` command all import one copy.
"""

__version__ = "0.1.0"
