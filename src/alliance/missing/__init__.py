"""Missing scores handled by multiple imputation (docs/missing-data.md).

chained.py imputes (chained equations, predictive mean matching), pooling.py combines the fits
by Rubin's rules as R's ``mice::pool``, tipping.py shifts imputed values away from "missing at
random" until a conclusion changes, analysis.py runs the plan's models through all three.
"""
