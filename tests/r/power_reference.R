# Analytic power of the alliance term's test (tests/test_power.py; docs/power.md).
# Run from the repository root: Rscript tests/r/power_reference.R
# G*Power convention ("R² increase", Faul et al. 2009): u = 1, v = N - k - 2, ncp = f2 * N,
#   power = 1 - pf(qf(1 - alpha, 1, v), 1, v, ncp = f2 * N)      (the reference formula of docs/power.md)
# pwr convention: pwr::pwr.f2.test(u = 1, v = v, f2, sig.level = alpha), ncp = f2 * (u + v + 1).
# Required N for a target power under pwr's convention: pwr.f2.test solves for a real v;
#   N = ceiling(v) + k + 2 is the smallest whole sample reaching it.
suppressMessages({library(pwr); library(jsonlite)})
grid <- expand.grid(f2 = c(0, 0.02, 0.15, 0.35, 0.6), n = c(6, 10, 22, 40, 100, 400),
                    k = c(1, 2, 4), alpha = c(0.05, 0.05 / 6))
grid <- grid[grid$n - grid$k - 2 >= 1, ]
v <- grid$n - grid$k - 2
grid$gpower <- 1 - pf(qf(1 - grid$alpha, 1, v), 1, v, ncp = grid$f2 * grid$n)
grid$pwr <- mapply(function(f2, v, a) pwr.f2.test(u = 1, v = v, f2 = f2, sig.level = a)$power,
                   grid$f2, v, grid$alpha)
targets <- expand.grid(f2 = c(0.02, 0.15, 0.35), k = c(1, 3), alpha = c(0.05, 0.05 / 6),
                       power = c(0.8, 0.9))
targets$n_pwr <- mapply(function(f2, k, a, p)
  ceiling(pwr.f2.test(u = 1, f2 = f2, sig.level = a, power = p)$v) + k + 2,
  targets$f2, targets$k, targets$alpha, targets$power)
out <- list(about = list(generated_by = "tests/r/power_reference.R", r_version = R.version.string,
                         pwr = as.character(packageVersion("pwr"))),
            power = lapply(seq_len(nrow(grid)), function(i) {
              row <- grid[i, ]
              list(f2 = row$f2, n = row$n, k = row$k, alpha = sprintf("%.17g", row$alpha),
                   gpower = sprintf("%.17g", row$gpower), pwr = sprintf("%.17g", row$pwr))
            }),
            required_n = lapply(seq_len(nrow(targets)), function(i) {
              row <- targets[i, ]
              list(f2 = row$f2, k = row$k, alpha = sprintf("%.17g", row$alpha),
                   power = row$power, n_pwr = row$n_pwr)
            }))
writeLines(toJSON(out, auto_unbox = TRUE, pretty = TRUE, digits = NA),
           "tests/fixtures/r/power/power.json")
