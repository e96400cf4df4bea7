"""Reference for train.rs's GroupedAdamW: torch.optim.AdamW with two parameter groups (decay on
the weight, none on the bias), clip_grad_norm_ and HF's linear schedule with warm-up.

    python3 reference_adamw.py    # torch 2.x; prints the values pasted into train.rs's test
"""
import torch

torch.set_default_dtype(torch.float32)
x = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.8, -1.2], [2.0, 0.1, 0.7], [-0.4, 1.5, 1.0]])
y = torch.tensor([[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8], [0.9, -0.6]])
w = torch.nn.Parameter(torch.tensor([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]]))
b = torch.nn.Parameter(torch.tensor([0.05, -0.05]))
opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.1}, {"params": [b], "weight_decay": 0.0}],
                        lr=0.1, betas=(0.9, 0.999), eps=1e-8)
total, warmup = 5, 1
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda k: k / max(1, warmup) if k < warmup else max(0.0, (total - k) / max(1, total - warmup)))
norms = []
for step in range(total):
    opt.zero_grad()
    loss = ((x @ w + b - y) ** 2).sum()
    loss.backward()
    norms.append(torch.nn.utils.clip_grad_norm_([w, b], 0.5).item())
    opt.step()
    sched.step()
print("norms", norms)
print("w", w.detach().flatten().tolist())
print("b", b.detach().tolist())
