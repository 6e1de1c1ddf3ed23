# Kenward-Roger inference for the random-intercept fits (tests/test_mixed_reference.py).
# Run from the repository root after tests/r/mixed_reference.R: Rscript tests/r/mixed_kr_reference.R
# Reads the data sets of tests/fixtures/r/mixed/lmer_reference.json, refits each with the same
# tightened optimiser and writes tests/fixtures/r/mixed/kr_reference.json: per fixed effect
# lmerTest's contest1D(m, L, ddf = "Kenward-Roger", confint = TRUE) (SE from pbkrtest's adjusted
# covariance, KR df, t, p, 95 % CI) and the whole adjusted covariance pbkrtest::vcovAdj(m).
# "pipeline" adds the moderation model at s3 of the session-level crossover trial
# tests/fixtures/r/mixed/sessions.csv, its rows built as tests/r/mixed_reference.R builds them
# (every phase with data, open-label baseline borrowed from the placebo post, alliance centred).
suppressMessages({library(lmerTest); library(pbkrtest); library(jsonlite)})
tight <- lmerControl(optimizer = "nloptwrap",
                     optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-14,
                                    xtol_rel = 1e-14, ftol_rel = 1e-14, maxeval = 1e5))
ref <- fromJSON("tests/fixtures/r/mixed/lmer_reference.json", simplifyVector = TRUE)
kr_case <- function(case) kr_fit(as.data.frame(case$data), as.formula(case$formula))
kr_fit <- function(d, formula) {
  m <- lmer(formula, data = d, REML = TRUE, control = tight)
  beta <- fixef(m)
  rows <- lapply(seq_along(beta), function(j) {
    L <- numeric(length(beta)); L[j] <- 1
    ct <- contest1D(m, L, ddf = "Kenward-Roger", confint = TRUE)
    list(name = names(beta)[j], estimate = ct$Estimate, std_error = ct[["Std. Error"]],
         df = ct$df, t = ct[["t value"]], p = ct[["Pr(>|t|)"]],
         ci_low = ct$lower, ci_high = ct$upper)
  })
  list(terms = rows, vcov_adjusted = unname(as.matrix(vcovAdj(m))),
       theta = unname(getME(m, "theta")), singular = isSingular(m))
}
sessions <- read.csv("tests/fixtures/r/mixed/sessions.csv", stringsAsFactors = FALSE)
ol <- sessions$phase == "open_label"
rand_post <- setNames(sessions$caps__post[sessions$phase == "randomized"],
                      sessions$participant_id[sessions$phase == "randomized"])
borrow <- ol & is.na(sessions$caps__baseline)
sessions$caps__baseline[borrow] <- rand_post[sessions$participant_id[borrow]]
mod <- data.frame(participant = sessions$participant_id, post = sessions$caps__post,
                  baseline = sessions$caps__baseline, wai = sessions$wai__s3,
                  mdma = as.numeric(ol | sessions$arm == "mdma"))
mod <- mod[complete.cases(mod), ]
mod$wai <- mod$wai - mean(mod$wai)
f_mod <- post ~ baseline + wai + mdma + wai:mdma + (1 | participant)

out <- list(about = list(generated_by = "tests/r/mixed_kr_reference.R",
                         r_version = R.version.string,
                         lme4 = as.character(packageVersion("lme4")),
                         lmerTest = as.character(packageVersion("lmerTest")),
                         pbkrtest = as.character(packageVersion("pbkrtest"))),
            cases = lapply(ref$cases, kr_case),
            pipeline = list(moderation_s3 = kr_fit(mod, f_mod)))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null"),
           "tests/fixtures/r/mixed/kr_reference.json")
