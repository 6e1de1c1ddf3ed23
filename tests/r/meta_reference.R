# Random-effects meta-analysis reference values (tests/test_meta_reference.py).
# Run from the repository root: Rscript tests/r/meta_reference.R
#
# Writes the study tables tests/fixtures/r/meta/<dataset>.csv (study, r, n, covariates: the
# input `alliance meta` reads) and tests/fixtures/r/meta/metafor.json with, for every dataset,
# method (REML, DL, PM, ML) and test (z, knha):
#   yi/vi from escalc("ZCOR") with vi = 1 / (n - 3 - covariates) (a partial r from a model with
#   that many covariates), rma(yi, vi, method =, test =), weights(), and
#   predict(fit, transf = transf.ztor).
# "tight": control = list(threshold = 1e-12, maxiter = 1000, tol = 1e-15), so the iterative
# estimators (REML, ML: Fisher scoring; PM: uniroot) are solved to machine precision and the
# comparison can be tight. "default": metafor's own control (threshold 1e-5 on the change in
# tau^2, uniroot tol 1.2e-4), what a user running rma() without control sees. A fit metafor
# refuses is recorded as {"error": message}.
suppressMessages({library(metafor); library(jsonlite)})
dir.create("tests/fixtures/r/meta", showWarnings = FALSE, recursive = TRUE)

set.seed(16)
k20_n <- sample(15:200, 20, replace = TRUE)
k20_rho <- tanh(rnorm(20, mean = atanh(0.28), sd = 0.2))  # tau = 0.2 on the z scale
k20_r <- round(sapply(seq_len(20), function(i) {
  x <- rnorm(k20_n[i]); y <- k20_rho[i] * x + sqrt(1 - k20_rho[i]^2) * rnorm(k20_n[i])
  cor(x, y)
}), 4)

datasets <- list(
  k2 = data.frame(study = c("Site A", "Site B"), r = c(0.30, 0.55), n = c(40, 25),
                  covariates = 0),
  k3 = data.frame(study = c("Trial 1", "Trial 2", "Trial 3"), r = c(0.10, 0.45, 0.62),
                  n = c(60, 22, 18), covariates = 0),
  homogeneous_k5 = data.frame(study = paste("Study", 1:5), r = c(0.30, 0.31, 0.29, 0.30, 0.32),
                              n = c(50, 80, 30, 120, 45), covariates = 0),
  heterogeneous_k20 = data.frame(study = sprintf("Study %02d", 1:20), r = k20_r, n = k20_n,
                                 covariates = 0),
  partial_r_k6 = data.frame(study = paste("Model", LETTERS[1:6]),
                            r = c(0.42, 0.18, 0.55, 0.31, -0.05, 0.38),
                            n = c(22, 64, 19, 41, 35, 28), covariates = c(1, 2, 1, 3, 1, 2)),
  small_mixed_k5 = data.frame(study = c("P1", "P2", "P3", "P4", "P5"),
                              r = c(0.65, 0.85, 0.20, -0.10, 0.50),
                              n = c(19, 20, 22, 30, 15), covariates = 0),
  # Three small trials beside one very large study: metafor's Fisher scoring for REML does
  # not converge in 100 iterations (an error); ML, DL and PM fit.
  nonconverging_k4 = data.frame(study = c("Trial 1", "Trial 2", "Trial 3", "Large"),
                                r = c(0.10, 0.45, 0.62, 0.278), n = c(60, 22, 18, 7080),
                                covariates = 0)
)

fit_one <- function(d, method, test, control) {
  es <- escalc("ZCOR", ri = d$r, ni = d$n)
  vi <- 1 / (d$n - 3 - d$covariates)
  fit <- rma(yi = as.numeric(es$yi), vi = vi, method = method, test = test, control = control)
  pr <- predict(fit, transf = transf.ztor)
  list(
    yi = as.numeric(es$yi), vi = vi,
    estimate = as.numeric(fit$b), se = fit$se, statistic = fit$zval, p = fit$pval,
    df = if (test == "knha") fit$ddf else NA,
    ci_low = fit$ci.lb, ci_high = fit$ci.ub,
    tau2 = fit$tau2, q = fit$QE, q_df = fit$k - fit$p, q_p = fit$QEp, i2 = fit$I2, h2 = fit$H2,
    weights = as.numeric(weights(fit)),
    r = pr$pred, r_ci_low = pr$ci.lb, r_ci_high = pr$ci.ub,
    r_pi_low = pr$pi.lb, r_pi_high = pr$pi.ub
  )
}

tight <- list(threshold = 1e-12, maxiter = 1000, tol = 1e-15)
out <- list(about = list(generated_by = "tests/r/meta_reference.R",
                         r_version = R.version.string,
                         metafor = as.character(packageVersion("metafor"))))
for (name in names(datasets)) {
  d <- datasets[[name]]
  write.csv(d, file.path("tests/fixtures/r/meta", paste0(name, ".csv")), row.names = FALSE)
  fits <- list()
  for (method in c("REML", "DL", "PM", "ML")) for (test in c("z", "knha")) {
    fits[[length(fits) + 1]] <- list(
      method = tolower(method), test = test,
      tight = tryCatch(fit_one(d, method, test, tight),
                       error = function(e) list(error = conditionMessage(e))),
      default = tryCatch(fit_one(d, method, test, list()),
                         error = function(e) list(error = conditionMessage(e)))
    )
  }
  out[[name]] <- fits
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/fixtures/r/meta/metafor.json")
