# Level of the alliance x condition test under the null, Satterthwaite vs Kenward-Roger
# (tests/test_mixed_plan.py). Run from the repository root (10 to 30 minutes):
#     Rscript tests/r/mixed_kr_null_level.R [reps = 4000] [out = tests/fixtures/r/mixed/kr_null_level.json]
# Same designs and data-generating model as tests/r/mixed_null_level.R (22 episodes; random
# intercept SD 6, residual SD 10, no interaction), with more data sets for a tighter Monte Carlo
# band; each fit is tested both ways: lmerTest's Satterthwaite df and pbkrtest's Kenward-Roger
# (adjusted covariance and df, via lmerTest's contest1D(ddf = "Kenward-Roger")). Rates are given
# overall and split by singular / non-singular fit, with the median KR df.
suppressMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
reps <- if (length(args)) as.integer(args[1]) else 4000
level <- function(n_single, n_pairs, reps, seed) {
  set.seed(seed)
  pid <- c(seq_len(n_single), rep(n_single + seq_len(n_pairs), each = 2))
  m <- c(rep(1, n_single), rep(c(0, 1), n_pairs))
  n <- length(pid)
  L <- c(0, 0, 0, 0, 1)
  out <- replicate(reps, {
    u <- rnorm(n_single + n_pairs, 0, 6)
    b <- rnorm(n, 80, 12); a <- rnorm(n, 5, 0.7); a <- a - mean(a)
    y <- 20 + 0.5 * b - 3 * a - 20 * m + u[pid] + rnorm(n, 0, 10)
    d <- data.frame(participant = factor(pid), y, b, a, m)
    f <- suppressMessages(suppressWarnings(lmer(y ~ b + a + m + a:m + (1 | participant), data = d)))
    s <- contest1D(f, L, ddf = "Satterthwaite")
    k <- contest1D(f, L, ddf = "Kenward-Roger")
    c(s[["Pr(>|t|)"]], k[["Pr(>|t|)"]], isSingular(f), k$df)
  })
  sing <- out[3, ] == 1
  rate <- function(p, keep = rep(TRUE, length(p))) mean(p[keep] < 0.05)
  list(episodes = n, reps = reps,
       satterthwaite = rate(out[1, ]), kenward_roger = rate(out[2, ]),
       singular_share = mean(sing),
       satterthwaite_nonsingular = rate(out[1, ], !sing),
       kenward_roger_nonsingular = rate(out[2, ], !sing),
       satterthwaite_singular = rate(out[1, ], sing),
       kenward_roger_singular = rate(out[2, ], sing),
       kenward_roger_median_df = median(out[4, ]))
}
t0 <- Sys.time()
res <- list(about = list(generated_by = "tests/r/mixed_kr_null_level.R",
                         lmerTest = as.character(packageVersion("lmerTest")),
                         pbkrtest = as.character(packageVersion("pbkrtest"))),
            crossover_6 = level(10, 6, reps, 11), crossover_11 = level(0, 11, reps, 12))
message("seconds: ", format(Sys.time() - t0))
out <- toJSON(res, auto_unbox = TRUE, digits = NA, pretty = TRUE)
writeLines(out, if (length(args) > 1) args[2] else "tests/fixtures/r/mixed/kr_null_level.json")
