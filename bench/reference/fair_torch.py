"""PyTorch side of the paired benchmark (bench/fair.ts), on the same fixture as bench/fairWorker.ts.

Usage: /usr/bin/python3 bench/reference/fair_torch.py <fixtureDir> <job> <iterations>
Jobs: sinusoid:<order>:<innerSteps> (25 tasks batched with bmm), omniglot:<order>:1 (the MLP with batch
norm, Dense kernels adapted in the same low-rank form as metatape: x (W + u^T v) = x W + (x u^T) v),
matmul:<m>x<k>x<n>, info (torch version, threads, BLAS library mapped, OpenBLAS core). Prints one JSON line.
One thread (torch.set_num_threads(1)) unless BENCH_TORCH_THREADS says more (bench/fairThreads.ts).
"""
import ctypes
import json
import os
import resource
import sys
import time

import torch

torch.set_num_threads(int(os.environ.get('BENCH_TORCH_THREADS', '1')))


def load(d, name):
    with open(f'{d}/{name}.json') as f:
        manifest = json.load(f)
    raw = open(f'{d}/{name}.bin', 'rb').read()
    allv = torch.frombuffer(bytearray(raw), dtype=torch.float32)

    def get(key):
        e = manifest[key]
        n = 1
        for s in e['shape']:
            n *= s
        t = allv[e['offset']:e['offset'] + n].clone().reshape(e['shape'])
        return t.long() if e.get('int') else t
    return manifest, get


def peak_rss_mb():
    # VmHWM, this process's own high-water mark (getrusage's maxrss survives exec: it could be the parent's)
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- sinusoid: 1-40-40-1 ReLU, MSE, batched over tasks with bmm (PyTorch's best row) ----

def sin_forward(p, x):
    # p: tiled [T, in, out] kernels and [T, out] biases
    h = torch.relu(torch.bmm(x, p[0]) + p[1].unsqueeze(1))
    h = torch.relu(torch.bmm(h, p[2]) + p[3].unsqueeze(1))
    return torch.bmm(h, p[4]) + p[5].unsqueeze(1)


def sin_step(params, opt, batch, order, steps, alpha=0.01):
    xs, ys, xq, yq = batch
    T = xs.shape[0]
    opt.zero_grad()
    fast = [p.unsqueeze(0).expand(T, *p.shape) for p in params]
    for _ in range(steps):
        loss = ((sin_forward(fast, xs) - ys) ** 2).mean(dim=(1, 2)).sum()
        grads = torch.autograd.grad(loss, fast, create_graph=(order == 2))
        fast = [p - alpha * g for p, g in zip(fast, grads)]
    q = ((sin_forward(fast, xq) - yq) ** 2).mean()
    q.backward()
    record_grad_norm(params)
    opt.step()
    return q.item()


GRAD_NORM = []


def record_grad_norm(params):
    if not GRAD_NORM:
        GRAD_NORM.append(float(sum((p.grad.double() ** 2).sum() for p in params)) ** 0.5)


# ---- Omniglot MLP 784-256-128-64-64-5, batch norm (per-task batch stats, eps 1e-3), low-rank fast kernels ----

def bn(z, gamma, beta):
    mean = z.mean(dim=1, keepdim=True)
    var = ((z - mean) ** 2).mean(dim=1, keepdim=True)
    return (z - mean) / torch.sqrt(var + 1e-3) * gamma.unsqueeze(1) + beta.unsqueeze(1)


def omni_forward(kernels, deltas, vec, x):
    """kernels: 5 shared [in,out]; deltas: per kernel a list of (u [T,r,in], v [T,r,out]); vec: per-task
    biases/gammas/betas [T, n]. Returns logits and the layer inputs and pre-activation products."""
    inputs, prods = [], []
    h = x
    for i in range(5):
        inputs.append(h)
        z = h @ kernels[i]
        for u, v in deltas[i]:
            z = z + torch.bmm(torch.bmm(h, u.transpose(1, 2)), v)
        prods.append(z)
        z = z + vec[3 * i].unsqueeze(1)
        if i < 4:
            h = torch.relu(bn(z, vec[3 * i + 1], vec[3 * i + 2]))
        else:
            h = z
    return h, inputs, prods


def ce(logits, y):
    T, n, w = logits.shape
    return torch.nn.functional.cross_entropy(logits.reshape(T * n, w), y.reshape(T * n), reduction='none').reshape(T, n).mean(dim=1)


def omni_step(kernels, vec, opt, batch, order, steps, alpha=0.4):
    xs, ys, xq, yq = batch
    T = xs.shape[0]
    opt.zero_grad()
    deltas = [[] for _ in range(5)]
    fvec = [p.unsqueeze(0).expand(T, *p.shape) for p in vec]
    for _ in range(steps):
        logits, inputs, prods = omni_forward(kernels, deltas, fvec, xs)
        loss = ce(logits, ys).sum()
        grads = torch.autograd.grad(loss, prods + fvec, create_graph=(order == 2))
        gz, gv = grads[:5], grads[5:]
        # one SGD step on W: W - alpha * x^T dz, kept as the factors u = x, v = -alpha dz
        deltas = [d + [(inputs[i], -alpha * gz[i])] for i, d in enumerate(deltas)]
        fvec = [p - alpha * g for p, g in zip(fvec, gv)]
    logits, _, _ = omni_forward(kernels, deltas, fvec, xq)
    q = ce(logits, yq).mean()
    q.backward()
    record_grad_norm(kernels + vec)
    opt.step()
    return q.item()


# ---- conv4: 4 x (3x3 'same' conv 64, BN (per-task batch stats over images and pixels), ReLU, 2x2 max-pool) ----
# Per-task kernels as one grouped conv (groups = tasks), PyTorch's batched form of MAML's fast weights.

def conv_forward(p, x):
    # p: per-task tensors; kernels [T, F, C, 3, 3], vectors [T, F]; x [T, n, 1, 28, 28]
    T, n = x.shape[:2]
    h = x.transpose(0, 1).reshape(n, T * x.shape[2], 28, 28)  # tasks as channel groups
    for b in range(4):
        w, bias, gamma, beta = p[4 * b:4 * b + 4]
        F = w.shape[1]
        h = torch.nn.functional.conv2d(h, w.reshape(T * F, *w.shape[2:]), bias.reshape(T * F), padding=1, groups=T)
        hh = h.reshape(n, T, F, *h.shape[2:])
        mean = hh.mean(dim=(0, 3, 4), keepdim=True)
        var = ((hh - mean) ** 2).mean(dim=(0, 3, 4), keepdim=True)
        hh = (hh - mean) / torch.sqrt(var + 1e-3) * gamma[None, :, :, None, None] + beta[None, :, :, None, None]
        h = torch.nn.functional.max_pool2d(torch.relu(hh).reshape(n, T * F, *h.shape[2:]), 2)
    feat = h.reshape(n, T, -1).transpose(0, 1)  # [T, n, 64] (1x1 spatial)
    return torch.bmm(feat, p[16]) + p[17].unsqueeze(1)


def conv_step(params, opt, batch, order, steps, alpha=0.4):
    xs, ys, xq, yq = batch
    T = xs.shape[0]
    xs = xs.permute(0, 1, 4, 2, 3)
    xq = xq.permute(0, 1, 4, 2, 3)
    opt.zero_grad()
    fast = [p.unsqueeze(0).expand(T, *p.shape) for p in params]
    for _ in range(steps):
        loss = ce(conv_forward(fast, xs), ys).sum()
        grads = torch.autograd.grad(loss, fast, create_graph=(order == 2))
        fast = [p - alpha * g for p, g in zip(fast, grads)]
    q = ce(conv_forward(fast, xq), yq).mean()
    q.backward()
    record_grad_norm(params)
    opt.step()
    return q.item()


def run_meta(d, kind, order, steps, iters):
    manifest, get = load(d, kind)
    names = [k[len('param/'):] for k in manifest if k.startswith('param/')]
    params = {n: get('param/' + n).requires_grad_() for n in names}
    tasks = [get('tasks/' + k) for k in ('supportX', 'supportY', 'queryX', 'queryY')]
    nb = tasks[0].shape[0]
    batches = [tuple(t[i] for t in tasks) for i in range(nb)]
    if kind == 'sinusoid':
        plist = [params[f'{i}.dense/{w}'] for i in (0, 1, 2) for w in ('kernel', 'bias')]
        opt = torch.optim.Adam(plist, lr=1e-3)
        step = lambda b: sin_step(plist, opt, b, order, steps)  # noqa: E731
    elif kind == 'conv4':
        plist = []
        for b, i in enumerate((0, 4, 8, 12)):
            # metatape's [kh, kw, cin, F] kernel is torch's [F, cin, kh, kw]
            params[f'{i}.conv2d/kernel'] = params[f'{i}.conv2d/kernel'].detach().permute(3, 2, 0, 1).contiguous().requires_grad_()
            plist += [params[f'{i}.conv2d/kernel'], params[f'{i}.conv2d/bias'],
                      params[f'{i + 1}.batchNorm/gamma'], params[f'{i + 1}.batchNorm/beta']]
        plist += [params['17.dense/kernel'], params['17.dense/bias']]
        opt = torch.optim.Adam(plist, lr=1e-3)
        step = lambda b: conv_step(plist, opt, b, order, steps)  # noqa: E731
    else:
        dl = [0, 3, 6, 9, 12]
        kernels = [params[f'{i}.dense/kernel'] for i in dl]
        vec = []
        for j, i in enumerate(dl):
            vec.append(params[f'{i}.dense/bias'])
            if j < 4:
                vec += [params[f'{i + 1}.batchNorm/gamma'], params[f'{i + 1}.batchNorm/beta']]
        opt = torch.optim.Adam(kernels + vec, lr=1e-3)
        step = lambda b: omni_step(kernels, vec, opt, b, order, steps)  # noqa: E731
    it = 0
    losses = []
    # BENCH_WARMUP: the warm-up iterations bench/fair.ts gives both tools (metatape's V8 needs ~1000
    # sinusoid iterations to finish optimizing); the default otherwise.
    warm = int(os.environ.get('BENCH_WARMUP', max(5, -(-iters // 5))))
    for _ in range(warm):
        losses.append(step(batches[it % nb]))
        it += 1
    t0 = time.perf_counter()
    for _ in range(iters):
        step(batches[it % nb])
        it += 1
    ms = (time.perf_counter() - t0) * 1000 / iters
    return {'msPerIt': ms, 'losses': losses[:5], 'gradNorm0': GRAD_NORM[0], 'peakRssMb': peak_rss_mb()}


def run_matmul(size, min_ms):
    m, k, n = size
    a = torch.rand(m, k) * 2 - 1
    b = torch.rand(k, n) * 2 - 1
    out = torch.empty(m, n)
    macs = m * k * n
    for _ in range(max(2, -(-10_000_000 // macs))):
        torch.mm(a, b, out=out)
    reps = max(1, -(-1_000_000 // macs))
    total, done = 0.0, 0
    while total < min_ms:
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b, out=out)
        total += (time.perf_counter() - t0) * 1000
        done += reps
        if total < min_ms / 4:
            reps *= 2
    return {'gflops': 2 * macs * done / (total * 1e6), 'peakRssMb': peak_rss_mb()}


def info():
    torch.mm(torch.rand(64, 64), torch.rand(64, 64))  # make sure BLAS is loaded
    libs = []
    with open('/proc/self/maps') as f:
        for line in f:
            p = line.split()[-1]
            if ('blas' in p.lower() or 'mkl' in p.lower() or 'lapack' in p.lower()) and p not in libs:
                libs.append(p)
    core = None
    for p in libs:
        if 'openblas' in p.lower():
            try:
                lib = ctypes.CDLL(p)
                lib.openblas_get_config.restype = ctypes.c_char_p
                lib.openblas_get_corename.restype = ctypes.c_char_p
                core = f'{lib.openblas_get_corename().decode()} ({lib.openblas_get_config().decode().strip()})'
                break
            except (OSError, AttributeError):
                pass
    return {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'blas': libs, 'openblasCore': core}


if __name__ == '__main__':
    d, job = sys.argv[1], sys.argv[2]
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    parts = job.split(':')
    if parts[0] == 'info':
        out = info()
    elif parts[0] == 'matmul':
        out = run_matmul([int(s) for s in parts[1].split('x')], iters)
    else:
        out = run_meta(d, parts[0], int(parts[1]), int(parts[2]) if len(parts) > 2 else 1, iters)
    print(json.dumps(out))
