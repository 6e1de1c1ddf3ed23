# Level of lmerTest's Satterthwaite test of alliance x condition under the null
# (tests/test_mixed_plan.py). Run from the repository root: Rscript tests/r/mixed_null_level.R
# Writes tests/fixtures/r/mixed/null_level.json: for two designs of 22 episodes, the share of
# 1,000 null data sets (no interaction; random intercept SD 6, residual SD 10, baseline and
# alliance independent of it) in which lmer(post ~ baseline + wai * mdma + (1 | participant))
# rejects wai:mdma at .05, and the share of singular fits:
#   crossover_6: 10 MDMA participants with one episode, 6 placebo participants who cross over;
#   crossover_11: 11 participants, each with a placebo and an MDMA episode.
suppressMessages({library(lmerTest); library(jsonlite)})
level <- function(n_single, n_pairs, reps, seed) {
  set.seed(seed)
  pid <- c(seq_len(n_single), rep(n_single + seq_len(n_pairs), each = 2))
  m <- c(rep(1, n_single), rep(c(0, 1), n_pairs))
  n <- length(pid)
  out <- replicate(reps, {
    u <- rnorm(n_single + n_pairs, 0, 6)
    b <- rnorm(n, 80, 12); a <- rnorm(n, 5, 0.7); a <- a - mean(a)
    y <- 20 + 0.5 * b - 3 * a - 20 * m + u[pid] + rnorm(n, 0, 10)
    d <- data.frame(participant = factor(pid), y, b, a, m)
    f <- suppressMessages(suppressWarnings(lmer(y ~ b + a + m + a:m + (1 | participant), data = d)))
    c(summary(f)$coefficients["a:m", "Pr(>|t|)"], isSingular(f))
  })
  list(episodes = n, reps = reps, rejection_rate = mean(out[1, ] < 0.05),
       singular_share = mean(out[2, ] == 1))
}
res <- list(about = list(generated_by = "tests/r/mixed_null_level.R",
                         lmerTest = as.character(packageVersion("lmerTest"))),
            crossover_6 = level(10, 6, 1000, 1), crossover_11 = level(0, 11, 1000, 2))
writeLines(toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           "tests/fixtures/r/mixed/null_level.json")
