# Default JZS Bayes factors for adding alliance to the baseline model (tests/test_bayes_factor.py).
# Run from the repository root with Debian's R (r-cran-bayesfactor, r-cran-jsonlite):
#
#     Rscript tests/r/bayes_factor_reference.R
#
# Writes tests/fixtures/r/bayes/bf10.json with
#   <dataset>: for each of the article's six models (CAPS / IES-R post ~ baseline + WAI total at
#     pre_s3, s4, s9; complete cases per model, as tests/r/hc3_reference.R builds them):
#     log bf10 = log lmBF(post ~ baseline + wai) / lmBF(post ~ baseline), default
#     rscaleCont = "medium" (sqrt(2)/4), its log bf01 (the reduced model over the full one),
#     lmBF's error and method, the same ratio with the numeric covariate age, and the plain
#     ratio at rscaleCont = "wide" (1/2);
#     every log BF is also recomputed with BayesFactor's own integrand at rel.tol 1e-13
#     ("_tight") to show how far lmBF's default quadrature (rel.tol ~1.2e-4) is from the
#     integral it estimates;
#   categorical_phase: episode_phase as a covariate, entered (a) as a numeric 0/1 treatment dummy
#     (open_label = reference, as alliance's design matrix codes it) through lmBF and through
#     regressionBF(whichModels = "top"), and (b) as a factor through lmBF (own g, MCMC estimate,
#     seeded), to measure what treating the dummy as continuous changes;
#   synthetic: small data sets written out with the data (rounded before fitting, so the JSON
#     holds exactly the numbers R used): N = 4 and 6, R^2 near 0, R^2 near 1 (BF > 1e300);
#   vs_null: linearReg.R2stat(N, p, R2, rscale) over a grid, with its properror and a tight
#     value.
suppressMessages({library(BayesFactor); library(jsonlite)})
options(BFprogress = FALSE)
RSCALE <- sqrt(2) / 4  # rscaleCont = "medium"

# BayesFactor's integrand over u = log g (Vectorize()d), integrated to near machine precision.
integrand <- BayesFactor:::integrand.regression.u
tight_log_bf <- function(N, p, R2, rscale = RSCALE) {
  mode <- optimize(function(u) integrand(u, N, p, R2, rscale^2, log = TRUE),
                   c(-40, 60), maximum = TRUE, tol = 1e-10)$maximum
  peak <- integrand(mode, N, p, R2, rscale^2, log = TRUE)
  piece <- function(lo, hi) integrate(integrand, lo, hi, N = N, p = p, R2 = R2,
                                      rscaleSqr = rscale^2, log.const = peak, rel.tol = 1e-13,
                                      abs.tol = 0, subdivisions = 1000L)$value
  log(piece(-Inf, mode) + piece(mode, Inf)) + peak
}
tight_model <- function(formula, d, rscale = RSCALE) {
  tight_log_bf(nrow(d), length(attr(terms(formula), "term.labels")),
               summary(lm(formula, data = d))$r.squared, rscale)
}

ratio <- function(full, reduced, d, rscale = RSCALE) {
  f <- lmBF(full, data = d, rscaleCont = rscale)
  r <- lmBF(reduced, data = d, rscaleCont = rscale)
  list(log_bf10 = extractBF(f / r, logbf = TRUE)$bf,
       log_bf01 = extractBF(r / f, logbf = TRUE)$bf,
       error = extractBF(f / r)$error,
       method = f@numerator[[1]]@analysis$method,
       log_bf10_tight = tight_model(full, d, rscale) - tight_model(reduced, d, rscale))
}

episodes <- function(dataset, outcome, tp) {
  ep <- read.csv(file.path("tests/fixtures/r/models", paste0(dataset, "_episodes.csv")))
  d <- data.frame(post = ep[[paste0(outcome, "__post")]],
                  baseline = ep[[paste0(outcome, "__baseline")]],
                  wai = ep[[paste0("wai__", tp)]], age = ep[["age"]],
                  phase = ep[["episode_phase"]])
  d[complete.cases(d), ]
}

out <- list(about = list(generated_by = "tests/r/bayes_factor_reference.R",
                         r_version = R.version.string,
                         BayesFactor = as.character(packageVersion("BayesFactor")),
                         rscale = RSCALE))
out$categorical_phase <- list()
set.seed(20261125)
for (dataset in c("article_like", "crossover_missing")) {
  models <- list()
  for (outcome in c("caps", "iesr")) for (tp in c("pre_s3", "s4", "s9")) {
    d <- episodes(dataset, outcome, tp)
    plain <- ratio(post ~ baseline + wai, post ~ baseline, d)
    aged <- ratio(post ~ baseline + age + wai, post ~ baseline + age, d)
    wide <- ratio(post ~ baseline + wai, post ~ baseline, d, rscale = 1 / 2)  # "wide"
    models[[length(models) + 1]] <- c(
      list(outcome = outcome, timepoint = tp, n = nrow(d)), plain,
      setNames(aged, paste0(names(aged), "_age")),
      list(log_bf10_wide = wide$log_bf10, log_bf10_tight_wide = wide$log_bf10_tight))

    d$phase_dummy <- as.numeric(d$phase == "randomized")
    d$phase_factor <- factor(d$phase)
    dummy <- ratio(post ~ baseline + phase_dummy + wai, post ~ baseline + phase_dummy, d)
    top <- regressionBF(post ~ baseline + phase_dummy + wai, data = d, whichModels = "top")
    omit_wai <- extractBF(top, logbf = TRUE)["baseline + phase_dummy", "bf"]
    ff <- lmBF(post ~ baseline + phase_factor + wai, data = d, iterations = 100000)
    rf <- lmBF(post ~ baseline + phase_factor, data = d, iterations = 100000)
    as_factor <- extractBF(ff / rf, logbf = TRUE)
    out$categorical_phase[[length(out$categorical_phase) + 1]] <- list(
      dataset = dataset, outcome = outcome, timepoint = tp, n = nrow(d),
      n_randomized = sum(d$phase_dummy), dummy = dummy,
      regressionbf_top_log_bf_omit_wai = omit_wai,
      factor = list(log_bf10 = as_factor$bf, error = as_factor$error,
                    method = ff@numerator[[1]]@analysis$method, iterations = 100000))
  }
  out[[dataset]] <- models
}

# Synthetic edge cases. Data are rounded before anything is fitted, so the JSON's decimals are
# exactly the data R used.
synthetic_case <- function(name, d, note) {
  list(name = name, note = note, data = as.list(d), n = nrow(d),
       r2_full = summary(lm(post ~ ., data = d))$r.squared,
       plain = if (!"age" %in% names(d)) ratio(post ~ baseline + wai, post ~ baseline, d),
       age = if ("age" %in% names(d)) ratio(post ~ baseline + age + wai, post ~ baseline + age, d))
}
set.seed(7)
n <- 6
d6 <- data.frame(baseline = round(rnorm(n, 75, 12), 1), wai = round(rnorm(n, 200, 20), 1))
d6$post <- round(10 + 0.5 * d6$baseline - 0.2 * d6$wai + rnorm(n, 0, 8), 1)
d6age <- d6
d6age$age <- round(rnorm(n, 40, 10))
d4 <- data.frame(baseline = c(60, 72, 81, 95), wai = c(210, 180, 199, 170),
                 post = c(20, 35, 31, 52))
n <- 40
z <- data.frame(post = rnorm(n), baseline = rnorm(n), wai = rnorm(n))
# Residualise the predictors on post so R^2 is ~0 (up to the rounding to 6 significant digits).
z$baseline <- signif(residuals(lm(baseline ~ post, data = z)), 6)
z$wai <- signif(residuals(lm(wai ~ post + baseline, data = z)), 6)
z$post <- signif(z$post, 6)
n <- 100
h <- data.frame(baseline = round(rnorm(n, 75, 12), 2), wai = round(rnorm(n, 200, 20), 2))
h$post <- round(5 + 0.5 * h$baseline - 0.3 * h$wai + rnorm(n, 0, 0.002), 6)
out$synthetic <- list(
  synthetic_case("n6", d6, "N = 6, two predictors"),
  synthetic_case("n6_age", d6age, "N = 6, three predictors (p = N - 3)"),
  synthetic_case("n4", d4, "N = 4, the smallest N lmBF accepts for p = 2"),
  synthetic_case("r2_near_0", z, "predictors residualised on the outcome"),
  synthetic_case("r2_near_1", h, "noise sd 0.002: bf10 overflows a double"))

# rscale: "medium" (sqrt(2)/4, the default), "wide" (1/2), "ultrawide" (sqrt(2)/2), and 1.
edges <- expand.grid(N = c(4, 6, 22, 200, 5000), p = c(1, 2, 4),
                     R2 = c(0, 1e-6, 0.01, 0.3, 0.9, 0.999, 0.999999999),
                     rscale = c(RSCALE, 1 / 2, sqrt(2) / 2, 1))
edges <- edges[edges$p < edges$N - 1, ]
vs_null <- mapply(function(N, p, R2, r) BayesFactor:::linearReg.R2stat(N, p, R2, r)[c("bf", "properror")],
                  edges$N, edges$p, edges$R2, edges$rscale)
edges$log_bf <- unlist(vs_null["bf", ])
edges$properror <- unlist(vs_null["properror", ])
edges$log_bf_tight <- mapply(tight_log_bf, edges$N, edges$p, edges$R2, edges$rscale)
out$vs_null <- edges

dir.create("tests/fixtures/r/bayes", recursive = TRUE, showWarnings = FALSE)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, dataframe = "rows"),
           "tests/fixtures/r/bayes/bf10.json")
