"""Monte Carlo estimation of a known expectation (a study template).

The estimate of E[cos(t X)], X ~ N(0, 1), from n independent draws is the sample mean; its
exact value is exp(-t^2/2) and, by the central limit theorem, its error is about
sqrt(Var[cos(t X)] / n). Replace this model with yours; keep the module layout.
"""

PAPER = "owen2013mc"  # bibliography key (in section.bib) of the work whose statements the study checks
