"""Deep matrix completion with a deficit: critical periods in deep linear networks.

Paper: Kleinman, Achille & Soatto, "Critical Learning Periods Emerge Even in Deep Linear
Networks", ICLR 2024, following Arora, Cohen, Hu & Luo (NeurIPS 2019).  A deep linear network
completes a low-rank matrix from a few observed entries by full-batch GD; pre-training on an
unrelated task of higher rank, or on a subset of the observations, permanently damages deep
networks but not a depth-1 one.
"""

PAPER = "kleinman2024critical"
