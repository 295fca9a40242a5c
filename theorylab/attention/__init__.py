"""What a single random-feature attention layer can learn.

Paper: Fu, Guo, Bai & Mei, "What can a Single Attention Layer Learn? A Study Through the
Random Features Lens", NeurIPS 2023 (arXiv 2307.11353).  Model: one multi-head attention
layer reading a query x_0 and N keys x_1..x_N (unit sphere, augmented with a constant 1),
with M heads whose query-key product matrices W_m are frozen Gaussians (zero mean, or a
non-zero mean proportional to the identity) and whose value vectors are trained:
f(X) = sum_m (1/N) sum_i relu(x~_0^T W_m x~_i) <v_m, x~_i>.  It is compared with a
two-layer random-feature MLP with as many trainable weights, and with kernel ridge
regression under both infinite-width kernels (closed forms).  Only the paper's abstract
could be read; every quantitative check is a derivation from the model or our
reconstruction of the abstract's qualitative statements.
"""

PAPER = "fu2023attention"
