"""Power of the alliance test for planning a replication (SPEC §7): analytic and simulated."""
