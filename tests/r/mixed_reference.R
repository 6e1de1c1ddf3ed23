# Random-intercept REML fits with Satterthwaite inference (tests/test_mixed_reference.py).
# Run from the repository root with Debian's R (r-cran-lmertest, r-cran-jsonlite):
#
#     Rscript tests/r/mixed_reference.R
#
# Writes tests/fixtures/r/mixed/lmer_reference.json: for each data set (the data themselves,
# rounded to 4 decimals before fitting, so the JSON holds exactly what R used):
#   lmerTest::lmer(formula, REML = TRUE) fitted twice,
#   - "tight": nloptwrap with xtol/ftol tightened to 1e-14, so the optimum θ is known to ~1e-9
#     and the Python fit can be held to 1e-6 on estimates (lme4's default stops at ftol_abs 1e-8
#     on the deviance, which leaves θ uncertain in its 4th-5th digit);
#   - "default": lmerControl() as a user would run it, kept to show how far the default stops
#     from the optimum;
#   per fixed effect: contest1D(m, L, confint = TRUE) (estimate, SE, Satterthwaite df, t, p, 95 %
#   Wald CI on df), the variance components, theta, sigma, the REML criterion, isSingular().
# Data sets cover balanced, unbalanced with missing sessions, participants with one observation,
# a singular fit, n = 20, the lagged within-between model with and without the previous outcome,
# and the alliance x condition model on a crossover trial (two episodes for crossed participants).
suppressMessages({library(lmerTest); library(jsonlite)})

tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14,
                                    xtol_rel = 1e-14, ftol_rel = 1e-14, maxeval = 1e5))

fit_one <- function(formula, d, control) {
  m <- if (is.null(control)) lmer(formula, data = d, REML = TRUE)
       else lmer(formula, data = d, REML = TRUE, control = control)
  beta <- fixef(m)
  rows <- lapply(seq_along(beta), function(j) {
    L <- numeric(length(beta)); L[j] <- 1
    ct <- contest1D(m, L, confint = TRUE)
    list(name = names(beta)[j], estimate = ct$Estimate, std_error = ct[["Std. Error"]],
         df = ct$df, t = ct[["t value"]], p = ct[["Pr(>|t|)"]],
         ci_low = ct$lower, ci_high = ct$upper)
  })
  vc <- as.data.frame(VarCorr(m))
  list(terms = rows, theta = unname(getME(m, "theta")), sigma = sigma(m),
       participant_variance = vc$vcov[vc$grp == "participant"],
       residual_variance = vc$vcov[vc$grp == "Residual"],
       reml_criterion = unname(REMLcrit(m)), singular = isSingular(m),
       n_observations = nrow(d), n_groups = length(unique(d$participant)))
}

case <- function(d, formula) {
  d <- as.data.frame(lapply(d, function(col) if (is.numeric(col)) round(col, 4) else col))
  list(formula = deparse(formula), data = d,
       tight = fit_one(formula, d, tight), default = fit_one(formula, d, NULL))
}

# Lagged within-between data: T sessions, alliance w and symptoms y per participant.
lagged <- function(n, T, seed, sd_u = 4, drop = 0, previous = FALSE) {
  set.seed(seed)
  rows <- list()
  for (i in seq_len(n)) {
    trait <- rnorm(1, 0, 0.6); u <- rnorm(1, 0, sd_u)
    w <- 4.5 + trait + rnorm(T, 0, 0.5)
    y <- 40 - 2 * seq_len(T) + u + rnorm(T, 0, 5)
    y[-1] <- y[-1] - 1.5 * (w[-T] - mean(w)) - 3 * trait
    keep_w <- runif(T) >= drop; keep_y <- runif(T) >= drop
    w[!keep_w] <- NA; y[!keep_y] <- NA
    wbar <- mean(w[seq_len(T - 1)], na.rm = TRUE)
    for (j in 2:T) {
      if (is.na(y[j]) || is.na(w[j - 1]) || (previous && is.na(y[j - 1]))) next
      rows[[length(rows) + 1]] <- data.frame(participant = sprintf("P%03d", i), time = j - 1,
        y = y[j], wai_within = w[j - 1] - wbar, wbar = wbar, previous = y[j - 1])
    }
  }
  d <- do.call(rbind, rows)
  d <- d[is.finite(d$wbar), ]
  per <- d[!duplicated(d$participant), ]
  d$wai_between <- d$wbar - mean(per$wbar)
  d$wbar <- NULL
  if (!previous) d$previous <- NULL
  d
}

# Crossover: MDMA participants one randomised episode; placebo participants a placebo episode
# and, if crossed over, an open-label MDMA episode whose baseline is the placebo post.
crossover <- function(n, seed, sd_u = 3) {
  set.seed(seed)
  rows <- list()
  for (i in seq_len(n)) {
    mdma_arm <- i %% 3 != 0; u <- rnorm(1, 0, sd_u)
    base <- rnorm(1, 80, 12)
    w <- rnorm(1, 5, 0.7)
    post <- base - (if (mdma_arm) 35 else 15) + u - 4 * w + rnorm(1, 0, 10)
    rows[[length(rows) + 1]] <- data.frame(participant = sprintf("C%02d", i),
      baseline = base, wai = w, mdma = as.numeric(mdma_arm), post = post)
    if (!mdma_arm && i %% 9 != 0) {
      w2 <- rnorm(1, 5.2, 0.7)
      post2 <- post - 25 + u - 5 * w2 + rnorm(1, 0, 10)
      rows[[length(rows) + 1]] <- data.frame(participant = sprintf("C%02d", i),
        baseline = post, wai = w2, mdma = 1, post = post2)
    }
  }
  d <- do.call(rbind, rows)
  d$wai <- d$wai - mean(d$wai)
  d
}

first_singular <- function(make, formula, seeds) {
  for (s in seeds) {
    d <- make(s)
    d <- as.data.frame(lapply(d, function(col) if (is.numeric(col)) round(col, 4) else col))
    m <- suppressMessages(lmer(formula, data = d, REML = TRUE, control = tight))
    if (isSingular(m) && getME(m, "theta") == 0) return(d)
  }
  stop("no singular data set among the seeds")
}

f_lag <- y ~ time + wai_within + wai_between + (1 | participant)
f_prev <- y ~ time + wai_within + wai_between + previous + (1 | participant)
f_mod <- post ~ baseline + wai + mdma + wai:mdma + (1 | participant)

set.seed(1)
cov_data <- lagged(20, 6, 11, drop = 0.1)
cov_data$age <- round(rnorm(nrow(cov_data), 40, 10))[match(cov_data$participant,
                                                            unique(cov_data$participant))]

cases <- list(
  balanced = case(lagged(20, 6, 1), f_lag),
  unbalanced_missing = case(lagged(30, 8, 2, drop = 0.25), f_lag),
  previous_outcome = case(lagged(25, 7, 3, drop = 0.15, previous = TRUE), f_prev),
  n20_few_sessions = case(lagged(20, 3, 4), f_lag),
  one_observation_participants = case(lagged(24, 3, 5, drop = 0.3), f_lag),
  with_covariate = case(cov_data, y ~ time + wai_within + wai_between + age + (1 | participant)),
  large_icc = case(lagged(20, 5, 6, sd_u = 15), f_lag),
  singular = case(first_singular(function(s) lagged(20, 4, s, sd_u = 0), f_lag, 100:400), f_lag),
  crossover = case(crossover(30, 7, sd_u = 12), f_mod),
  crossover_n22 = case(crossover(18, 8), f_mod)
)

# End to end: the session-level crossover trial tests/fixtures/r/mixed/sessions.csv (scored
# layout, written by make_sessions.py there), with the model rows built here from the wide file
# exactly as the specification defines them, so the Python pipeline's own data construction is
# checked too.
sessions <- read.csv("tests/fixtures/r/mixed/sessions.csv", stringsAsFactors = FALSE)
# MDMA episodes under the first-MDMA rule: randomised phase of the MDMA arm, open-label phase of
# a placebo participant who crossed over.
first_mdma <- sessions[(sessions$arm == "mdma" & sessions$phase == "randomized") |
                       (sessions$arm == "placebo" & sessions$phase == "open_label"), ]
lagged_rows <- function(ep, outcome, predictor, tps, lag = 1, previous = FALSE) {
  T <- length(tps)
  Y <- as.matrix(ep[paste0(outcome, "__", tps)]); W <- as.matrix(ep[paste0(predictor, "__", tps)])
  wbar <- rowMeans(W[, seq_len(T - lag), drop = FALSE], na.rm = TRUE)
  rows <- list()
  for (i in seq_len(nrow(ep))) for (j in (lag + 1):T) {
    if (is.na(Y[i, j]) || is.na(W[i, j - lag]) || (previous && is.na(Y[i, j - 1]))) next
    rows[[length(rows) + 1]] <- data.frame(participant = ep$participant_id[i], time = j - 1,
      y = Y[i, j], wai_within = W[i, j - lag] - wbar[i], wbar = wbar[i], previous = Y[i, j - 1])
  }
  d <- do.call(rbind, rows)
  per <- d[!duplicated(d$participant), ]
  d$wai_between <- d$wbar - mean(per$wbar)
  d$wbar <- NULL
  names(d)[names(d) == "previous"] <- paste0(outcome, "_previous")
  d
}
tps <- paste0("s", 1:6)
session_fit <- function(d, formula) list(formula = deparse(formula), tight = fit_one(formula, d, tight))
all_phases <- sessions
ol <- all_phases$phase == "open_label"
rand_post <- setNames(sessions$caps__post[sessions$phase == "randomized"],
                      sessions$participant_id[sessions$phase == "randomized"])
borrow <- ol & is.na(all_phases$caps__baseline)
all_phases$caps__baseline[borrow] <- rand_post[all_phases$participant_id[borrow]]
moderation_rows <- function(tp) {
  d <- data.frame(participant = all_phases$participant_id, post = all_phases$caps__post,
                  baseline = all_phases$caps__baseline,
                  wai = all_phases[[paste0("wai__", tp)]],
                  mdma = as.numeric(all_phases$phase == "open_label" | all_phases$arm == "mdma"))
  d <- d[complete.cases(d), ]
  d$wai <- d$wai - mean(d$wai)
  d
}
f_prev_iesr <- y ~ time + wai_within + wai_between + iesr_previous + (1 | participant)
pipeline <- list(
  longitudinal_lag1 = session_fit(lagged_rows(first_mdma, "iesr", "wai", tps), f_lag),
  longitudinal_previous = session_fit(lagged_rows(first_mdma, "iesr", "wai", tps, previous = TRUE),
                                      f_prev_iesr),
  longitudinal_lag2 = session_fit(lagged_rows(first_mdma, "iesr", "wai", tps, lag = 2), f_lag),
  moderation_s3 = session_fit(moderation_rows("s3"), f_mod),
  moderation_s4 = session_fit(moderation_rows("s4"), f_mod)
)

out <- list(about = list(generated_by = "tests/r/mixed_reference.R", r_version = R.version.string,
                         lme4 = as.character(packageVersion("lme4")),
                         lmerTest = as.character(packageVersion("lmerTest"))),
            cases = cases, pipeline = pipeline)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/fixtures/r/mixed/lmer_reference.json")
