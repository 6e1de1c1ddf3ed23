#!/usr/bin/env Rscript
# Golden fixtures for the article's models (the article's plan), multiplicity correction and model
# diagnostics, computed with base R (lm, p.adjust, shapiro.test, cooks.distance), lmtest
# (bptest) and car (vif).
#
# Run from the repository root with Debian's R (r-cran-jsonlite, r-cran-lmtest, r-cran-car):
#
#     Rscript tests/r/fixtures_models.R
#
# Reads   tests/fixtures/data/<dataset>.csv          (the scored layout)
# Writes  tests/fixtures/r/models/<dataset>_episodes.csv  the episode rows every model used
#         tests/fixtures/r/models/<dataset>.json          models, p.adjust, diagnostics
#         tests/fixtures/r/models/p_adjust_edge_cases.json
#
# Numbers are written with jsonlite's full precision (digits = NA, 15 significant digits);
# R's NA (the intercept's standardised beta, NaN p-values) is written as null.

suppressPackageStartupMessages({
  library(jsonlite)
  library(lmtest)
  library(car)
})

DATA_DIR <- file.path("tests", "fixtures", "data")
OUT_DIR <- file.path("tests", "fixtures", "r", "models")
DATASETS <- c("article_like", "crossover_missing")
OUTCOMES <- c("caps", "iesr")
TIMEPOINTS <- c("pre_s3", "s4", "s9")
ALPHA <- 0.05
# Project method names -> p.adjust's names.
METHODS <- c(holm = "holm", bonferroni = "bonferroni", hochberg = "hochberg",
             bh = "BH", by = "BY", none = "none")

if (!dir.exists(DATA_DIR)) stop("run from the repository root: ", DATA_DIR, " not found")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)

write_json_file <- function(x, path) {
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, na = "null", pretty = TRUE), path)
}

# Vectors that must stay JSON arrays even when they have one element.
arr <- function(x) I(unname(x))

about <- list(
  generated_by = "tests/r/fixtures_models.R",
  r_version = R.version.string,
  packages = list(
    jsonlite = as.character(packageVersion("jsonlite")),
    lmtest = as.character(packageVersion("lmtest")),
    car = as.character(packageVersion("car"))
  )
)

# ---- Episodes (docs/data-layouts.md) -------------------------------------------------------------------
# One episode per participant: an MDMA-arm participant's randomised phase (a later open-label
# phase is ignored: the first MDMA exposure counts); a placebo-arm participant's open-label
# phase, when there is one. A blank open-label baseline of a score falls back to that score's
# post in the randomised (placebo) phase, which is the same assessment in time.
build_episodes <- function(scored) {
  score_cols <- grep("__", names(scored), value = TRUE, fixed = TRUE)
  ids <- sort(unique(scored$participant_id), method = "radix")  # code-point order
  rows <- list()
  for (id in ids) {
    g <- scored[scored$participant_id == id, , drop = FALSE]
    arm <- g$arm[1]
    phases <- g$phase
    phase <- if (arm == "mdma") {
      if ("randomized" %in% phases) "randomized" else if ("open_label" %in% phases) "open_label"
      else NA
    } else if ("open_label" %in% phases) "open_label" else NA
    if (is.na(phase)) next
    row <- g[g$phase == phase, , drop = FALSE][1, ]
    borrowed <- character(0)
    if (phase == "open_label" && "randomized" %in% phases) {
      randomized <- g[g$phase == "randomized", , drop = FALSE][1, ]
      for (col in score_cols) {
        parts <- strsplit(col, "__", fixed = TRUE)[[1]]
        fallback <- paste0(parts[1], "__post")
        if (parts[2] == "baseline" && is.na(row[[col]]) && fallback %in% names(randomized) &&
            !is.na(randomized[[fallback]])) {
          row[[col]] <- randomized[[fallback]]
          borrowed <- c(borrowed, parts[1])
        }
      }
    }
    extra <- setdiff(names(scored), c("participant_id", "phase", "arm"))
    rows[[length(rows) + 1]] <- data.frame(
      participant_id = id, arm = arm, episode_phase = phase,
      baseline_borrowed = paste(borrowed, collapse = ","),
      row[extra], stringsAsFactors = FALSE, row.names = NULL
    )
  }
  do.call(rbind, rows)
}

# ---- One model ------------------------------------------------------------------------------
term_name <- function(x) ifelse(x == "(Intercept)", "intercept", x)

fit_model <- function(episodes, outcome, timepoint, covariates = character(0)) {
  d <- data.frame(
    participant_id = episodes$participant_id,
    post = episodes[[paste0(outcome, "__post")]],
    baseline = episodes[[paste0(outcome, "__baseline")]],
    wai = episodes[[paste0("wai__", timepoint)]],
    stringsAsFactors = FALSE
  )
  for (covariate in covariates) d[[covariate]] <- episodes[[covariate]]
  d <- d[complete.cases(d), , drop = FALSE]
  n <- nrow(d)
  full <- lm(reformulate(c("baseline", "wai", covariates), response = "post"), data = d)
  reduced <- lm(reformulate(c("baseline", covariates), response = "post"), data = d)
  s <- summary(full)
  co <- coef(s)
  ci <- confint(full, level = 1 - ALPHA)
  df_resid <- df.residual(full)
  predictors <- rownames(co)[-1]
  std_beta <- c(NA_real_, co[predictors, "Estimate"] *
                  sapply(predictors, function(x) sd(d[[x]])) / sd(d$post))
  terms <- lapply(seq_len(nrow(co)), function(i) list(
    name = term_name(rownames(co)[i]),
    estimate = co[i, "Estimate"], std_error = co[i, "Std. Error"],
    t = co[i, "t value"], p = co[i, "Pr(>|t|)"],
    ci_low = ci[i, 1], ci_high = ci[i, 2], std_beta = std_beta[[i]]
  ))
  t_wai <- co["wai", "t value"]
  r2_reduced <- summary(reduced)$r.squared
  delta <- s$r.squared - r2_reduced

  cooks <- cooks.distance(full)
  threshold <- 4 / n
  above <- unname(which(cooks > threshold))
  above <- above[order(-cooks[above])]  # largest first; order() is stable for ties
  sw <- shapiro.test(residuals(full))
  bp <- bptest(full)  # studentize = TRUE: Koenker's version
  vifs <- vif(full)
  vc <- vcov(full)
  dimnames(vc) <- NULL

  list(
    outcome = outcome, predictor = "wai", timepoint = timepoint,
    formula = paste(deparse(formula(full)), collapse = ""),
    n = n, df_resid = df_resid,
    participant_ids = arr(d$participant_id),
    terms = terms,
    r_squared = s$r.squared, adj_r_squared = s$adj.r.squared,
    sigma = s$sigma, rss = deviance(full),
    baseline_only_r_squared = r2_reduced,
    partial_r = t_wai / sqrt(t_wai^2 + df_resid),
    delta_r_squared = delta,
    f_squared = delta / (1 - s$r.squared),
    vcov = vc,
    residuals = arr(residuals(full)), fitted = arr(fitted(full)),
    leverage = arr(hatvalues(full)),
    diagnostics = list(
      shapiro = list(W = unname(sw$statistic), p = sw$p.value),
      breusch_pagan = list(statistic = unname(bp$statistic), df = unname(bp$parameter),
                           p = unname(bp$p.value)),
      vif = as.list(vifs),
      cooks_distance = arr(cooks),
      cooks_threshold = threshold,
      influential = lapply(above, function(i) list(
        participant_id = d$participant_id[i], cooks_distance = unname(cooks[i])
      ))
    )
  )
}

adjust_all <- function(p) lapply(METHODS, function(m) arr(p.adjust(p, method = m)))

adjust_within <- function(p, families) {
  lapply(METHODS, function(m) {
    out <- p
    for (f in unique(families)) out[families == f] <- p.adjust(p[families == f], method = m)
    arr(out)
  })
}

# ---- Datasets -------------------------------------------------------------------------------
for (dataset in DATASETS) {
  data_file <- file.path(DATA_DIR, paste0(dataset, ".csv"))
  scored <- read.csv(data_file, stringsAsFactors = FALSE, na.strings = c("", "NA"),
                     colClasses = c(participant_id = "character"))
  episodes <- build_episodes(scored)
  episodes_file <- file.path(OUT_DIR, paste0(dataset, "_episodes.csv"))
  write.csv(episodes, episodes_file, row.names = FALSE, na = "")

  models <- list()
  with_age <- list()
  for (outcome in OUTCOMES) for (timepoint in TIMEPOINTS) {
    models[[length(models) + 1]] <- fit_model(episodes, outcome, timepoint)
    with_age[[length(with_age) + 1]] <- fit_model(episodes, outcome, timepoint, "age")
  }
  p <- sapply(models, function(m) m$terms[[3]]$p)
  families <- sapply(models, function(m) m$outcome)
  adjusted_all <- adjust_all(p)
  adjusted_per_outcome <- adjust_within(p, families)
  for (i in seq_along(models)) {
    models[[i]]$p_adjusted <- list(
      all = lapply(adjusted_all, function(a) a[[i]]),
      per_outcome = lapply(adjusted_per_outcome, function(a) a[[i]])
    )
  }

  write_json_file(list(
    about = c(about, list(
      description = paste(
        "lm(post ~ baseline + wai) for each outcome (caps, iesr) and alliance timepoint",
        "(pre_s3, s4, s9) on complete cases of the episode rows; 'models_with_age' adds the",
        "age covariate. Term names: intercept, baseline, wai, age. std_beta = b * sd(x) / sd(y)",
        "on the model's cases (null for the intercept); baseline_only_r_squared is",
        "lm(post ~ baseline [+ age]) on the same cases; partial_r = t / sqrt(t^2 + df_resid),",
        "delta_r_squared = R2 - baseline_only R2, f_squared = delta_r_squared / (1 - R2), all",
        "for the wai term. p_adjusted: p.adjust of the six wai p-values (model order) over all",
        "six ('all') or within each outcome ('per_outcome'). diagnostics: shapiro.test on the",
        "residuals, lmtest::bptest (studentized), car::vif, cooks.distance, and the cases whose",
        "Cook's distance exceeds 4/n, largest first."
      )
    )),
    dataset = dataset,
    data_file = data_file,
    episodes_file = episodes_file,
    alpha = ALPHA,
    n_participants = length(unique(scored$participant_id)),
    n_episodes = nrow(episodes),
    models = models,
    models_with_age = with_age,
    multiplicity = list(
      order = lapply(models, function(m) list(outcome = m$outcome, timepoint = m$timepoint)),
      p = arr(p),
      families_per_outcome = arr(families),
      all = adjusted_all,
      per_outcome = adjusted_per_outcome
    )
  ), file.path(OUT_DIR, paste0(dataset, ".json")))
}

# ---- p.adjust edge cases --------------------------------------------------------------------
set.seed(20240303)
edge <- list(
  ties = c(0.01, 0.03, 0.01, 0.04, 0.03, 0.2),
  all_equal = rep(0.02, 4),
  unsorted = c(0.2, 0.001, 0.04, 0.03, 0.6, 0.011, 0.009),
  non_monotone_step_up = c(0.04, 0.045, 0.048, 0.049, 0.5, 0.0125),
  capped_at_one = c(0.3, 0.6, 0.9, 1.0, 0.45),
  zeros_and_ones = c(0, 1, 0, 0.5, 1),
  tiny = c(1e-300, 1e-12, 0.5, 3e-8),
  nan_inside = c(0.01, NA, 0.04, 0.002, NA, 0.3),
  nan_first_and_ties = c(NA, 0.02, 0.02, 0.5),
  all_nan = c(NA_real_, NA_real_),
  single = 0.03,
  single_with_nan = c(NA, 0.03),
  empty = numeric(0),
  random_20 = round(runif(20)^3, 6)
)
cases <- lapply(names(edge), function(name) {
  p <- edge[[name]]
  list(name = name, p = arr(p), adjusted = adjust_all(p))
})
family_p <- c(0.01, 0.2, 0.03, NA, 0.04, 0.011, 0.5, 0.002, 0.03)
family_labels <- c("caps", "iesr", "caps", "iesr", "iesr", "caps", "other", "iesr", "caps")
write_json_file(list(
  about = c(about, list(description = paste(
    "p.adjust(p, method) for every method; null is R's NA (kept as NA, not counted in n).",
    "'families': p.adjust applied within each label."
  ))),
  cases = cases,
  families = list(p = arr(family_p), labels = arr(family_labels),
                  adjusted = adjust_within(family_p, family_labels))
), file.path(OUT_DIR, "p_adjust_edge_cases.json"))

# ---- OLS special cases ------------------------------------------------------------------------
# Deterministic designs (no random numbers) beyond the datasets: p-values far in the tail of the
# t distribution, and a model without an intercept (R² about zero rather than about the mean).
lm_case <- function(name, y, X, intercept) {
  # Fit exactly the values the JSON stores (15 significant digits).
  y <- signif(y, 15)
  X[] <- signif(X, 15)
  fit <- if (intercept) lm(y ~ X[, -1]) else lm(y ~ 0 + X)
  s <- summary(fit)
  co <- coef(s)
  ci <- confint(fit)
  list(
    name = name, y = arr(y), X = X, names = arr(colnames(X)), intercept = intercept,
    estimate = arr(co[, "Estimate"]), std_error = arr(co[, "Std. Error"]),
    t = arr(co[, "t value"]), p = arr(co[, "Pr(>|t|)"]),
    ci_low = arr(ci[, 1]), ci_high = arr(ci[, 2]),
    r_squared = s$r.squared, adj_r_squared = s$adj.r.squared, sigma = s$sigma,
    df_resid = df.residual(fit), leverage = arr(hatvalues(fit))
  )
}
i <- 1:25
strong <- cbind(intercept = 1, x1 = i, x2 = cos(i))
strong_y <- 1 + 0.5 * i + 0.3 * cos(i) + 0.01 * sin(3 * i)
no_int <- cbind(x1 = i / 5, x2 = sin(i) + 2)
no_int_y <- 0.8 * i / 5 + 0.5 * (sin(i) + 2) + 0.3 * cos(2 * i)
write_json_file(list(
  about = c(about, list(description = paste(
    "summary(lm(y ~ X)) on the stored X and y: 'strong_signal' has p-values near 1e-50,",
    "'no_intercept' is lm(y ~ 0 + X) with uncentred R²."
  ))),
  cases = list(
    lm_case("strong_signal", strong_y, strong, TRUE),
    lm_case("no_intercept", no_int_y, no_int, FALSE)
  )
), file.path(OUT_DIR, "ols_special_cases.json"))
