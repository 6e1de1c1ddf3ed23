# Rubin's rules with Barnard-Rubin df as mice::pool, and R^2 as mice::pool.r.squared
# (tests/test_mi_pooling_reference.py). Run from the repository root:
#   Rscript tests/r/mice_pool_reference.R
# Each set: mice (pmm) completes an episode frame; the completed datasets are written to
# tests/fixtures/r/mice/<set>_completed.csv (column .imp = imputation 1..m), then
# lm(post ~ baseline + wai [+ age]) is fitted on each (as.mira) and pooled: summary(pool(fit))
# (estimate, std.error, statistic, df, p.value) and pool(fit)$pooled (ubar, b, t, dfcom, riv,
# lambda, fmi), pool.r.squared(fit) -> tests/fixtures/r/mice/pool.json.
suppressMessages({library(mice); library(jsonlite)})
set.seed(20241)
n <- 40
base <- rnorm(n, 60, 12)
wai <- rnorm(n, 200, 25)
post <- 10 + 0.5 * base - 0.15 * wai + rnorm(n, 0, 9)
age <- round(rnorm(n, 40, 10))
sim <- data.frame(caps__baseline = base, caps__post = post, wai__s4 = wai, age = age)
# MAR: alliance and post more often missing when baseline severity is high
sim$wai__s4[base > quantile(base, 0.6) & runif(n) < 0.6] <- NA
sim$caps__post[base > quantile(base, 0.5) & runif(n) < 0.35] <- NA
ep <- read.csv("tests/fixtures/r/models/crossover_missing_episodes.csv")
cross <- ep[, c("caps__baseline", "caps__post", "iesr__baseline", "iesr__post",
                "wai__pre_s3", "wai__s4", "wai__s9", "age")]
sets <- list(
  list(name = "sim_m5", data = sim, m = 5, seed = 11, outcome = "caps", tp = "s4", cov = FALSE),
  list(name = "sim_m20_age", data = sim, m = 20, seed = 12, outcome = "caps", tp = "s4",
       cov = TRUE),
  list(name = "crossover_m10", data = cross, m = 10, seed = 13, outcome = "iesr", tp = "s9",
       cov = FALSE)
)
out <- list(about = list(generated_by = "tests/r/mice_pool_reference.R",
                         r_version = R.version.string,
                         mice = as.character(packageVersion("mice"))))
for (s in sets) {
  imp <- mice(s$data, m = s$m, method = "pmm", maxit = 5, seed = s$seed, printFlag = FALSE)
  long <- complete(imp, "long")
  write.csv(long[, c(".imp", names(s$data))],
            file.path("tests/fixtures/r/mice", paste0(s$name, "_completed.csv")),
            row.names = FALSE)
  f <- as.formula(paste0(s$outcome, "__post ~ ", s$outcome, "__baseline + wai__", s$tp,
                         if (s$cov) " + age" else ""))
  fit <- as.mira(lapply(seq_len(s$m), function(i) lm(f, data = complete(imp, i))))
  pooled <- pool(fit)
  sm <- summary(pooled, conf.int = TRUE)
  r2 <- pool.r.squared(fit)
  ar2 <- pool.r.squared(fit, adjusted = TRUE)
  pd <- pooled$pooled
  out[[s$name]] <- list(
    m = s$m, outcome = s$outcome, timepoint = s$tp, covariate = s$cov,
    terms = as.character(sm$term), estimate = sm$estimate, std_error = sm$std.error,
    statistic = sm$statistic, df = sm$df, p = sm$p.value,
    ci_low = sm[["2.5 %"]], ci_high = sm[["97.5 %"]],
    ubar = pd$ubar, b = pd$b, t = pd$t, dfcom = pd$dfcom, riv = pd$riv,
    lambda = pd$lambda, fmi = pd$fmi,
    r_squared = unname(r2[1, ]), adj_r_squared = unname(ar2[1, ]))
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/mice/pool.json")
