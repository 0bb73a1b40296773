"""PyTorch reference for `npm run bench`: MAML meta-iterations per second on the paper's sinusoid setup.

Meta-batch 25, K = 10 support and 10 query points, a 1-40-40-1 ReLU MLP, one inner SGD step (alpha 0.01),
Adam 1e-3 outer step; second order (create_graph=True) and first order; written as the usual per-task loop
and with the 25 tasks batched into batched matmuls. One thread (torch.set_num_threads(1)), like metatape.
Prints one JSON object. Run: python3 bench/reference/maml_torch.py [iterations]
"""
import json
import math
import sys
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
T, K, ALPHA = 25, 10, 0.01


def init_params():
    def layer(i, o):
        lim = math.sqrt(6 / (i + o))
        return [(torch.rand(i, o) * 2 - 1) * lim, torch.zeros(o)]
    ps = layer(1, 40) + layer(40, 40) + layer(40, 1)
    return [p.requires_grad_() for p in ps]


def tasks():
    a = torch.rand(T, 1, 1) * 4.9 + 0.1
    ph = torch.rand(T, 1, 1) * math.pi
    xs = torch.rand(T, K, 1) * 10 - 5
    xq = torch.rand(T, K, 1) * 10 - 5
    return xs, a * torch.sin(xs - ph), xq, a * torch.sin(xq - ph)


def forward(p, x):
    h = torch.relu(x @ p[0] + p[1])
    h = torch.relu(h @ p[2] + p[3])
    return h @ p[4] + p[5]


def forward_batched(p, x):
    # p[i] is [T, in, out] (weights) or [T, out] (biases).
    h = torch.relu(torch.bmm(x, p[0]) + p[1].unsqueeze(1))
    h = torch.relu(torch.bmm(h, p[2]) + p[3].unsqueeze(1))
    return torch.bmm(h, p[4]) + p[5].unsqueeze(1)


def step_per_task(params, opt, order):
    xs, ys, xq, yq = tasks()
    opt.zero_grad()
    total = 0.0
    for t in range(T):
        loss = ((forward(params, xs[t]) - ys[t]) ** 2).mean()
        grads = torch.autograd.grad(loss, params, create_graph=(order == 2))
        fast = [p - ALPHA * g for p, g in zip(params, grads)]
        q = ((forward(fast, xq[t]) - yq[t]) ** 2).mean() / T
        q.backward()
        total += q.item()
    opt.step()
    return total


def step_batched(params, opt, order):
    xs, ys, xq, yq = tasks()
    opt.zero_grad()
    tiled = [p.unsqueeze(0).expand(T, *p.shape) for p in params]
    loss = ((forward_batched(tiled, xs) - ys) ** 2).mean(dim=(1, 2)).sum()
    grads = torch.autograd.grad(loss, tiled, create_graph=(order == 2))
    fast = [p - ALPHA * g for p, g in zip(tiled, grads)]
    q = ((forward_batched(fast, xq) - yq) ** 2).mean()
    q.backward()
    opt.step()
    return q.item()


def measure(step, order, iters):
    params = init_params()
    opt = torch.optim.Adam(params, lr=1e-3)
    for _ in range(20):
        step(params, opt, order)
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(iters):
            step(params, opt, order)
        runs.append(iters / (time.perf_counter() - t0))
    runs.sort()
    return runs[1]


if __name__ == '__main__':
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    for order in (2, 1):
        out[f'perTask_order{order}'] = measure(step_per_task, order, max(10, iters // 4))
        out[f'batched_order{order}'] = measure(step_batched, order, iters)
    print(json.dumps(out))
