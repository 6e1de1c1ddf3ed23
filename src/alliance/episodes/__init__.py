"""MDMA treatment episodes and the participant ledger."""
