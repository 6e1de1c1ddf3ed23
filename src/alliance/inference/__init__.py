"""Inference on fitted models: multiplicity correction, diagnostics and robust companions."""
