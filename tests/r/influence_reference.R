# Leave-one-out influence of the alliance term (tests/test_influence.py).
# Run from the repository root: Rscript tests/r/influence_reference.R
# For each model: dfbeta(fit)[, "wai"] (raw change in b when a case is dropped), and the wai
# p-value of lm refitted without each case.
suppressMessages(library(jsonlite))
out <- list(about = list(generated_by = "tests/r/influence_reference.R", r_version = R.version.string))
for (dataset in c("article_like", "crossover_missing")) {
  ep <- read.csv(file.path("tests/fixtures/r/models", paste0(dataset, "_episodes.csv")))
  models <- list()
  for (outcome in c("caps", "iesr")) for (tp in c("pre_s3", "s4", "s9")) {
    d <- data.frame(id = ep$participant_id, post = ep[[paste0(outcome, "__post")]],
                    baseline = ep[[paste0(outcome, "__baseline")]], wai = ep[[paste0("wai__", tp)]])
    d <- d[complete.cases(d), ]
    fit <- lm(post ~ baseline + wai, data = d)
    p_without <- sapply(seq_len(nrow(d)), function(i)
      summary(lm(post ~ baseline + wai, data = d[-i, ]))$coefficients["wai", 4])
    models[[length(models) + 1]] <- list(outcome = outcome, timepoint = tp,
      participant_ids = d$id, dfbeta = unname(dfbeta(fit)[, "wai"]), p_without = p_without)
  }
  out[[dataset]] <- models
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/robust/influence.json")
