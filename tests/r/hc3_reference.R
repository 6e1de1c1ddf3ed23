# HC3 standard errors and p-values of the alliance term (tests/test_hc3_reference.py).
# Run from the repository root: Rscript tests/r/hc3_reference.R
# For each episode file written by fixtures_models.R, each outcome and timepoint:
# lm(post ~ baseline + wai) on complete cases, then
# lmtest::coeftest(fit, vcov = sandwich::vcovHC(fit, type = "HC3")) (t reference, df = n - p).
suppressMessages({library(sandwich); library(lmtest); library(jsonlite)})
out <- list(about = list(generated_by = "tests/r/hc3_reference.R", r_version = R.version.string,
                         sandwich = as.character(packageVersion("sandwich"))))
for (dataset in c("article_like", "crossover_missing")) {
  ep <- read.csv(file.path("tests/fixtures/r/models", paste0(dataset, "_episodes.csv")))
  models <- list()
  for (outcome in c("caps", "iesr")) for (tp in c("pre_s3", "s4", "s9")) {
    d <- data.frame(post = ep[[paste0(outcome, "__post")]],
                    baseline = ep[[paste0(outcome, "__baseline")]],
                    wai = ep[[paste0("wai__", tp)]])
    d <- d[complete.cases(d), ]
    fit <- lm(post ~ baseline + wai, data = d)
    ct <- coeftest(fit, vcov = vcovHC(fit, type = "HC3"))
    models[[length(models) + 1]] <- list(outcome = outcome, timepoint = tp, n = nrow(d),
      hc3_std_error = unname(ct[, 2]), hc3_p = unname(ct[, 4]))
  }
  out[[dataset]] <- models
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/robust/hc3.json")
