# Default JZS Bayes factors for adding alliance to the baseline model (tests/test_bayes_factor.py).
# Run from the repository root: Rscript tests/r/bayes_factor_reference.R
# For each episode file written by fixtures_models.R, each outcome and timepoint, on complete
# cases: lmBF(post ~ baseline + wai) / lmBF(post ~ baseline), default rscaleCont = "medium"
# (sqrt(2)/4), as log BF; with an age covariate where the data have one; and the vs-null BF of
# linearReg.R2stat for edge cases (R² near 0 and near 1, small N, several predictors).
suppressMessages({library(BayesFactor); library(jsonlite)})
options(BFprogress = FALSE)
out <- list(about = list(generated_by = "tests/r/bayes_factor_reference.R",
                         r_version = R.version.string,
                         BayesFactor = as.character(packageVersion("BayesFactor"))))
log_bf <- function(formula, d) extractBF(lmBF(formula, data = d), logbf = TRUE)$bf
for (dataset in c("article_like", "crossover_missing")) {
  ep <- read.csv(file.path("tests/fixtures/r/models", paste0(dataset, "_episodes.csv")))
  models <- list()
  for (outcome in c("caps", "iesr")) for (tp in c("pre_s3", "s4", "s9")) {
    d <- data.frame(post = ep[[paste0(outcome, "__post")]],
                    baseline = ep[[paste0(outcome, "__baseline")]],
                    wai = ep[[paste0("wai__", tp)]], age = ep[["age"]])
    d <- d[complete.cases(d), ]
    entry <- list(outcome = outcome, timepoint = tp, n = nrow(d),
                  log_bf10 = log_bf(post ~ baseline + wai, d) - log_bf(post ~ baseline, d),
                  log_bf10_age = log_bf(post ~ baseline + age + wai, d) -
                    log_bf(post ~ baseline + age, d))
    models[[length(models) + 1]] <- entry
  }
  out[[dataset]] <- models
}
edges <- expand.grid(N = c(6, 22, 200), p = c(1, 2, 4), R2 = c(0, 0.01, 0.3, 0.9, 0.999))
edges <- edges[edges$p < edges$N - 1, ]
edges$log_bf <- mapply(function(N, p, R2) BayesFactor:::linearReg.R2stat(N, p, R2)$bf,
                       edges$N, edges$p, edges$R2)
out$vs_null <- edges
writeLines(toJSON(out, digits = I(17), auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/bayes/bf10.json")
