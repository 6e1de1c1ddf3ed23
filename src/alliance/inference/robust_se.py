"""Heteroscedasticity-consistent (HC3) standard errors for small samples.

HC3 (MacKinnon & White, 1985) weights each squared residual by 1 / (1 − h_i)², which Long & Ervin
(2000) recommend below n ≈ 250; the test uses the t distribution with the model's residual
degrees of freedom, as R's ``lmtest::coeftest(fit, vcov = sandwich::vcovHC(fit, "HC3"))``.

References
----------
MacKinnon, J. G., & White, H. (1985). Some heteroskedasticity-consistent covariance matrix
estimators with improved finite sample properties. *Journal of Econometrics*, 29, 305–325.
Long, J. S., & Ervin, L. H. (2000). Using heteroscedasticity consistent standard errors in the
linear regression model. *The American Statistician*, 54, 217–224.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from alliance.models.ols import OLSFit


def hc3_covariance(fit: OLSFit, X: np.ndarray) -> np.ndarray:
    """HC3 sandwich (X'X)⁻¹ X' diag(e² / (1 − h)²) X (X'X)⁻¹, via the fit's QR-based bread."""
    bread = fit.vcov / fit.sigma**2  # (X'X)^-1 from the QR solve, no explicit inverse
    weights = fit.residuals**2 / (1.0 - fit.leverage) ** 2
    meat = (X * weights[:, None]).T @ X
    return np.asarray(bread @ meat @ bread)


def hc3_tests(fit: OLSFit, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HC3 standard errors and two-sided t-test p-values of every coefficient."""
    se = np.sqrt(np.diag(hc3_covariance(fit, X)))
    t = fit.estimate / se
    p = 2 * stats.t.sf(np.abs(t), fit.df_resid)
    return se, p
