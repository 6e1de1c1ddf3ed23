"""Bounds on numeric options and plan entries, in one place so --help, the plan check and the
docs agree.

Each bound keeps a run within what one machine does in reasonable time and memory and within
what the numerics handle exactly; none is close to what a trial analysis needs.
"""

from __future__ import annotations

# Seeds: 0 to 2³² − 1, what every random-number API (numpy's legacy seed, R's set.seed) takes
# and what JSON readers hold exactly.
MAX_SEED = 2**32 - 1
# Freedman–Lane permutations and bootstrap resamples per model (plan and command line).
MAX_RESAMPLES = 1_000_000
# Monte Carlo replications per cell of `alliance power`.
MAX_SIMULATIONS = 1_000_000
# Covariates (baseline included) of `alliance power`: one replication of N = 100,000 with 100
# covariates already holds 80 MB.
MAX_COVARIATES = 100
# Tests corrected together in `alliance power` (alpha / tests stays above 1e-10).
MAX_TESTS = 10_000
# Participants of `alliance simulate`: 20,000 give about six million item rows.
MAX_PARTICIPANTS = 20_000
# The JZS prior scale r of the Bayes factor: BayesFactor's named scales are 0.354 ("medium"),
# 0.5 ("wide") and 0.707 ("ultrawide"); 10 is far beyond any of them.
MAX_BF_RSCALE = 10.0
# The plan's significance level.
MIN_ALPHA = 1e-6
MAX_ALPHA = 0.5
# Sample sizes of `alliance power` (given, or searched for a target power).
MAX_N = 100_000
# Multiple imputation: completed datasets and rounds of the chained equations per dataset.
MAX_IMPUTATIONS = 1_000
MAX_ITERATIONS = 1_000
