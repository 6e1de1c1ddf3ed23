"""Instruments as data: definitions, scoring and internal consistency."""
