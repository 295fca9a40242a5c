"""Competition between two pathways: critical periods in deep linear networks.

Paper: Kleinman, Achille & Soatto, "Critical Learning Periods Emerge Even in Deep Linear
Networks", ICLR 2024, building on Shi, Shea-Brown & Buice (NeurIPS 2022).  Two deep pathways
learn the same hierarchical features; freezing one of them early (a deficit) hands every
feature to the other, permanently and more so in deeper networks, while a late deficit
does nothing.
"""

PAPER = "kleinman2024critical"
