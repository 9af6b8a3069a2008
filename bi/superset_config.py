"""Superset's configuration for telco-mart's analysts (SUPERSET_CONFIG_PATH points here).

Superset reads this file on top of its defaults. ``telco_mart.bi`` starts Superset with the
environment it needs: SUPERSET_HOME (metadata database, secret key, generated admin
password; ``.superset/`` by default). Everything here keeps Superset local and quiet: its
own SQLite metadata, no cache server, no telemetry pixel, no asset from outside the server
(a Content Security Policy allows this origin only), no example data.
"""

from __future__ import annotations

import os
from pathlib import Path

_HOME = Path(os.environ["SUPERSET_HOME"])

SECRET_KEY = (_HOME / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{_HOME / 'superset.db'}"
DATA_DIR = str(_HOME)

# Telemetry off: the frontend's usage pixel (Scarf) is blocked by the policy below, the
# server sends nothing, and the links to Superset's site are gone from the menu.
SCARF_ANALYTICS = False
BUG_REPORT_URL = None
DOCUMENTATION_URL = None

# No asset from outside this server: the bundled fonts and scripts are served by Superset
# itself; map tiles, font CDNs and the Scarf pixel of the default policy are left out.
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []
CONTENT_SECURITY_POLICY_WARNING = False

# No result cache: the served copy is small and DuckDB answers in milliseconds, so every
# load shows the copy swapped in last.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# The analysts read; nobody uploads files into the served copy, which is read-only anyway.
# Sub-queries in a chart's SQL filter ("the latest day": kpi_date = (select max(kpi_date) ...))
# are allowed: the database is that read-only copy of the public marts and nothing else.
FEATURE_FLAGS = {"ALLOW_ADHOC_SUBQUERY": True, "ALERT_REPORTS": False, "EMBEDDED_SUPERSET": False}
SQLLAB_TIMEOUT = 300
SUPERSET_WEBSERVER_TIMEOUT = 300
ROW_LIMIT = 50000
