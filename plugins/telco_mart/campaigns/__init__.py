"""Campaigns: the catalog marketing owns (:mod:`.catalog`) and the daily publish of the target
lists to the outbox (:mod:`.publish`)."""
