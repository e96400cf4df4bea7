#!/usr/bin/env python3
"""The GELU fit that RAFT's rational activation starts from (crates/zoo/src/forms/rational.rs).

R(x) = (a0 + a1 x + ... + a5 x^5) / (1 + |b1 x + ... + b4 x^4|), Molina et al.'s "safe" Pade
activation unit of orders 5/4, fitted to exact GELU on [-8, 8] (FFN pre-activations of BERT-size
models stay well inside): a linearised least-squares start, then L-BFGS on the mean squared error
of R itself. Prints the maximum error and the coefficients that rational.rs holds.

    /tmp/torchenv/bin/python tools/fit_rational_gelu.py
"""
import torch, numpy as np
torch.set_default_dtype(torch.float64)
x = torch.linspace(-8, 8, 4001)
g = torch.nn.functional.gelu(x)
# linearised least squares: P(x) - g(x) S(x) = g(x), S = sum_{k=1..4} b_k x^k
A = torch.cat([x[:, None] ** torch.arange(6), -(g[:, None]) * x[:, None] ** torch.arange(1, 5)], 1)
sol = torch.linalg.lstsq(A, g[:, None]).solution[:, 0]
a = sol[:6].clone().requires_grad_(); b = sol[6:].clone().requires_grad_()
def r(x):
    p = sum(a[j] * x ** j for j in range(6))
    q = 1 + (sum(b[k - 1] * x ** k for k in range(1, 5))).abs()
    return p / q
print("linearised max err", (r(x) - g).abs().max().item())
opt = torch.optim.LBFGS([a, b], max_iter=2000, line_search_fn="strong_wolfe")
def closure():
    opt.zero_grad(); l = ((r(x) - g) ** 2).mean(); l.backward(); return l
for _ in range(5): opt.step(closure)
print("fitted max err on [-3,3]", (r(x) - g).abs().max().item())
xx = torch.linspace(-12, 12, 4001)
print("max err on [-6,6]", (r(xx) - torch.nn.functional.gelu(xx)).abs().max().item())
print("a =", [float(f"{v:.10g}") for v in a.tolist()])
print("b =", [float(f"{v:.10g}") for v in b.tolist()])
