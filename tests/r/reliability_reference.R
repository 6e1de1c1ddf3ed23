# Reference values for Cronbach's alpha and one-factor ML omega (tests/test_reliability_reference.py).
# Run from the repository root: Rscript tests/r/reliability_reference.R
# alpha: psych::alpha()$total$raw_alpha. omega total: factanal(factors = 1) loadings l and
# uniquenesses u, omega = sum(l)^2 / (sum(l)^2 + sum(u)) (McDonald, 1999).
suppressMessages({library(psych); library(jsonlite)})
x <- read.csv("tests/fixtures/r/reliability/items.csv")
fa1 <- factanal(x, factors = 1)
l <- as.numeric(fa1$loadings)
u <- as.numeric(fa1$uniquenesses)
out <- list(
  about = list(generated_by = "tests/r/reliability_reference.R", r_version = R.version.string,
               psych = as.character(packageVersion("psych"))),
  alpha = psych::alpha(x, warnings = FALSE)$total$raw_alpha,
  omega = sum(l)^2 / (sum(l)^2 + sum(u)),
  loadings = l
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/fixtures/r/reliability/reference.json")
