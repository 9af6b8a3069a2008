"""Campaigns: the catalog marketing owns, and publishing the daily target lists."""
