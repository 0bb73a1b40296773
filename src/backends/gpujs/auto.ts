import { rankModes } from './create.js';
import { backendNameOf, type GpujsMode } from './modes.js';
import { type ModeProbe, probeGpujsModes } from './probe.js';

/**
 * Per mode, the smallest problem size at which the mode beat the CPU backend in `bench/gpujs.ts` (null: it
 * never did in the measured range). Sizes: elementwise and reductions in elements, matmul as n of an n×n×n
 * product.
 */
export interface Crossover {
  readonly elementwise: number | null;
  readonly reduce: number | null;
  readonly matmul: number | null;
}
export type CrossoverTable = Readonly<Partial<Record<GpujsMode, Crossover>>>;

/**
 * Crossovers measured with `bench/gpujs.ts` (float32, Node 20; tables in `bench/gpujs.md`). Software devices:
 * the CI machine type (2 cores, no GPU), where no mode beats the CPU backend on the ops a training step is made
 * of (webasm wins only plain same-shape adds, gpu.js's naive per-element matmul loses 20-60×, and lavapipe and
 * llvmpipe run shaders on the same two cores). Hardware: WebGPU (Dawn over Vulkan) on one NVIDIA H200, where
 * dispatch costs ~50-100 µs, so a kernel wins from ~64k elements or a 128³ matmul.
 */
export const MEASURED_CROSSOVERS: { readonly software: CrossoverTable; readonly hardware: CrossoverTable } = {
  software: {
    webgpu: { elementwise: null, reduce: null, matmul: null },
    headlessgl: { elementwise: null, reduce: null, matmul: null },
    webasm: { elementwise: null, reduce: null, matmul: null },
    cpu: { elementwise: null, reduce: null, matmul: null },
  },
  hardware: {
    webgpu: { elementwise: 65536, reduce: 65536, matmul: 128 },
  },
};

/** What `auto` picked and why (for logs and `metatape doctor`). */
export interface AutoChoice {
  readonly backend: string;
  readonly reason: string;
}

/** The typical sizes of a workload, e.g. from a config: the matmul n and the elements of a typical tensor. */
export interface WorkloadHint {
  readonly matmul?: number;
  readonly elements?: number;
}

/**
 * `auto`: the best available gpu.js mode if the workload is at or above that mode's measured crossover for its
 * dominant op (matmul when a matmul size is given, elementwise otherwise), else the CPU backend.
 */
export async function chooseAutoBackend(
  hint: WorkloadHint = {},
  probes?: readonly ModeProbe[],
  table = MEASURED_CROSSOVERS,
): Promise<AutoChoice> {
  const all = probes ?? (await probeGpujsModes());
  for (const mode of rankModes(all)) {
    const p = all.find((x) => x.mode === mode)!;
    const c = (p.software === false ? table.hardware : table.software)[mode];
    if (!c) continue;
    const [kind, size, at] =
      hint.matmul !== undefined
        ? (['matmul', hint.matmul, c.matmul] as const)
        : (['elementwise', hint.elements ?? 0, c.elementwise] as const);
    if (at !== null && size >= at) {
      return {
        backend: backendNameOf(mode),
        reason: `${kind} size ${size} >= measured crossover ${at} on ${p.device ?? mode}`,
      };
    }
  }
  return { backend: 'cpu', reason: 'no available gpu.js mode beats the cpu backend at this workload size' };
}
