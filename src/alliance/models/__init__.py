"""Analysis plans, least-squares fits and fitting a plan's models."""
