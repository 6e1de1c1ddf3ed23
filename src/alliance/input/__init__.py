"""Input stage: read any supported file as it is stored (``readers``) and translate a user's
column names and labels (``mapping``). The only library code that touches input files."""
