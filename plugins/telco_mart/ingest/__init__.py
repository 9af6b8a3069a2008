"""Ingestion: landed operator files into the DuckDB `raw` schema, exactly once."""

from telco_mart.ingest.loader import (
    FileOutcome,
    IngestReport,
    RetractError,
    feeds_delivered,
    ingest,
    ingest_file,
    replay_quarantine,
    retract_delivery,
)

__all__ = [
    "FileOutcome",
    "IngestReport",
    "RetractError",
    "feeds_delivered",
    "ingest",
    "ingest_file",
    "replay_quarantine",
    "retract_delivery",
]
