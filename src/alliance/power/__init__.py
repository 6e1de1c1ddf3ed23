"""Power of the alliance test for planning a replication (docs/power.md): analytic and simulated."""
