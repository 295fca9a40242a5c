"""A minimal plugin study: the frequency of heads in n flips of a coin with bias p."""

PAPER = "bernoulli1713"
