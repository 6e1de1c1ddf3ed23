"""Validation stage: check a table in one pass, collecting every problem, and return the item
frame (``item_layout``) or the scored frame (``scored_layout``); ``layout`` tells them apart."""
