"""Ingestion: landed operator files into the DuckDB `raw` schema, exactly once."""

from telco_mart.ingest.loader import FileOutcome, IngestReport, feeds_delivered, ingest, ingest_file

__all__ = ["FileOutcome", "IngestReport", "feeds_delivered", "ingest", "ingest_file"]
