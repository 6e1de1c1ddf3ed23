# Generalised variance inflation factors (tests/test_gvif_reference.py).
# Run from the repository root: Rscript tests/r/gvif_reference.R
# car::vif gives one GVIF per term (Fox & Monette, 1992): for a factor coded by several
# treatment dummies it is det(R_JJ) det(R_-J-J) / det(R) over the term's columns J, and equals
# the ordinary VIF for a one-column term. The data are drawn here (Mersenne-Twister, fixed
# seed) with factors correlated with the numeric predictors, written to CSV next to the
# answers, so the Python test builds the same design (levels sorted, first level the reference)
# from the same numbers.
suppressMessages({library(car); library(jsonlite)})
exact <- function(x) sprintf("%.17g", x)
set.seed(20261125)
draw <- function(n, levels_site, levels_group) {
  baseline <- round(rnorm(n, 80, 15))
  wai <- round(rnorm(n, 200, 20) + 0.3 * (baseline - 80))
  site <- levels_site[1 + (as.integer(wai > median(wai)) + rbinom(n, 1, 0.4)) %% length(levels_site)]
  group <- sample(levels_group, n, replace = TRUE)
  post <- round(0.5 * baseline - 0.2 * (wai - 200) + 3 * (site == levels_site[2]) + rnorm(n, 0, 10))
  data.frame(post, baseline, wai, site, group, stringsAsFactors = FALSE)
}
cases <- list(
  three_level_site = list(data = draw(30, c("north", "south", "west"), c("a", "b")),
                          terms = c("baseline", "wai", "site")),
  two_factors = list(data = draw(40, c("north", "south", "west"), c("a", "b", "c", "d")),
                     terms = c("baseline", "wai", "site", "group")),
  one_df_only = list(data = draw(22, c("north", "south"), c("a", "b")),
                     terms = c("baseline", "wai", "site"))
)
out <- list(about = list(generated_by = "tests/r/gvif_reference.R",
                         r_version = R.version.string,
                         car = as.character(packageVersion("car"))))
for (name in names(cases)) {
  case <- cases[[name]]
  file <- file.path("tests/fixtures/r/diagnostics", paste0("gvif_", name, ".csv"))
  write.csv(case$data, file, row.names = FALSE)
  model <- lm(reformulate(case$terms, response = "post"), data = case$data)
  v <- vif(model)
  if (is.matrix(v)) {
    gvif <- v[, "GVIF"]; df <- v[, "Df"]
  } else {
    gvif <- v; df <- rep(1, length(v)); names(df) <- names(v)
  }
  # one entry per term, in model order, named as R names the term
  out[[name]] <- list(data = file, terms = case$terms,
                      gvif = setNames(as.list(exact(gvif)), names(gvif)),
                      df = setNames(as.list(unname(df)), names(gvif)))
}
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/diagnostics/gvif.json")
