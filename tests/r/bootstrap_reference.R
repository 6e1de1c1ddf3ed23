# BCa bootstrap intervals of the alliance coefficient (tests/test_bootstrap_reference.py).
# Run from the repository root: Rscript tests/r/bootstrap_reference.R
# For each episode file written by fixtures_models.R, each outcome and timepoint, on complete
# cases, the statistic is coef(lm(post ~ baseline + wai))["wai"] under case resampling:
#  - "exact": boot(R = 2000) with its replicates t, t0 and frequency array (boot.array), and
#    boot.ci(type = "bca") at 95 % and 90 % with the default (regression) influence values;
#    Python is fed the same t and frequencies and must give the same limits.
#  - "monte_carlo": boot(R = 20000) limits, which Python's own 20,000 resamples must match
#    within Monte Carlo error.
#  - "few": boot(R = 39), where the adjusted quantiles fall outside (1, R) and boot uses the
#    extreme order statistics.
suppressMessages({library(boot); library(jsonlite)})
out <- list(about = list(generated_by = "tests/r/bootstrap_reference.R",
                         r_version = R.version.string,
                         boot = as.character(packageVersion("boot"))))
statistic <- function(d, i) coef(lm(post ~ baseline + wai, data = d[i, ]))[["wai"]]
# jsonlite prints at most 15 significant digits; exact doubles travel as "%.17g" strings.
exact <- function(x) sprintf("%.17g", x)
limits <- function(b, conf) {
  ci <- suppressWarnings(boot.ci(b, conf = conf, type = "bca"))$bca
  exact(unname(ci[, 4:5]))
}
seed <- 20240
for (dataset in c("article_like", "crossover_missing")) {
  ep <- read.csv(file.path("tests/fixtures/r/models", paste0(dataset, "_episodes.csv")))
  models <- list()
  for (outcome in c("caps", "iesr")) for (tp in c("pre_s3", "s4", "s9")) {
    d <- data.frame(post = ep[[paste0(outcome, "__post")]],
                    baseline = ep[[paste0(outcome, "__baseline")]],
                    wai = ep[[paste0("wai__", tp)]])
    d <- d[complete.cases(d), ]
    seed <- seed + 1; set.seed(seed)
    exact_run <- boot(d, statistic, R = 2000)
    set.seed(seed + 1000)
    mc <- boot(d, statistic, R = 20000)
    set.seed(seed + 2000)
    few <- boot(d, statistic, R = 39)
    models[[length(models) + 1]] <- list(
      outcome = outcome, timepoint = tp, n = nrow(d), t0 = exact(exact_run$t0),
      exact = list(t = exact(exact_run$t), frequencies = boot.array(exact_run),
                   bca95 = limits(exact_run, 0.95), bca90 = limits(exact_run, 0.90)),
      few = list(t = exact(few$t), frequencies = boot.array(few), bca95 = limits(few, 0.95)),
      monte_carlo = list(R = 20000, bca95 = limits(mc, 0.95)))
  }
  out[[dataset]] <- models
}
# A replicate can tie t0 to the last bit (n = 11): sum(t < t0) must see the doubles R saw.
writeLines(toJSON(out, auto_unbox = TRUE),
           "tests/fixtures/r/bootstrap/bca.json")
