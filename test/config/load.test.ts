import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfigText } from '../../src/config/load.js';

const MINIMAL = `name: sine
data: {kind: sinusoid}
model: {kind: mlp}
trainer: {iterations: 100}
`;

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message.split('\n');
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfigText', () => {
  it('fills in defaults', () => {
    const c = parseConfigText(MINIMAL, 'c.yaml');
    expect(c.seed).toBe(0);
    expect(c.backend).toBe('cpu');
    expect(c.trainer).toMatchObject({
      algorithm: 'maml',
      order: 2,
      innerSteps: 1,
      innerLr: 0.01,
      metaBatchSize: 25,
    });
    expect(c.trainer.innerOptimizer).toEqual({ kind: 'sgd' });
    expect(c.trainer.outerOptimizer).toMatchObject({ kind: 'adam', lr: 1e-3 });
    expect(c.trainer.clipGradNorm).toBeNull();
    expect(c.data).toMatchObject({ kind: 'sinusoid', amplitude: [0.1, 5], shots: 10, queryShots: 10 });
    expect(c.model).toMatchObject({ kind: 'mlp', hidden: [40, 40], activation: 'relu', batchNorm: false });
    expect(c.eval).toMatchObject({ tasks: 600, steps: [1, 5, 10], every: 0, shots: [10] });
    expect(c.logging).toEqual({ every: 100, checkpointEvery: 1000 });
    expect(c.output.dir).toBe('experiments');
  });

  it('defaults eval.shots to the data shots of either data kind', () => {
    const c = parseConfigText(
      'name: o\ndata: {kind: omniglot, shots: 5}\nmodel: {kind: conv4}\ntrainer: {iterations: 1}',
      'o.yaml',
    );
    expect(c.eval.shots).toEqual([5]);
    expect(c.data).toMatchObject({
      ways: 5,
      queryShots: 15,
      augmentRotations: true,
      root: 'datasets/omniglot',
    });
    expect(c.model).toEqual({ kind: 'conv4', filters: 64, pooling: 'maxpool' });
  });

  it('fills maml-mlp and inner optimizer defaults per kind', () => {
    const c = parseConfigText(MINIMAL.replace('{kind: mlp}', '{kind: maml-mlp}'), 'c.yaml', [
      'trainer.innerOptimizer={kind: momentum}',
    ]);
    expect(c.model).toMatchObject({ hidden: [256, 128, 64, 64], batchNorm: true });
    expect(c.trainer.innerOptimizer).toEqual({ kind: 'momentum', momentum: 0.9 });
  });

  it('rejects an unknown key with a suggestion and its line', () => {
    const lines = problemsOf(() =>
      parseConfigText(
        `${MINIMAL}trainer2: 1\n`.replace('{iterations: 100}', '{iterations: 100, innerStep: 5}'),
        'c.yaml',
      ),
    );
    expect(lines).toContain('c.yaml: trainer.innerStep: unknown key (did you mean innerSteps?) (line 4)');
    expect(lines.some((l) => l.startsWith('c.yaml: trainer2: unknown key (did you mean trainer?)'))).toBe(
      true,
    );
  });

  it('reports a value outside the allowed set', () => {
    const lines = problemsOf(() =>
      parseConfigText(MINIMAL.replace('{iterations: 100}', '{iterations: 100, order: 3}'), 'c.yaml'),
    );
    expect(lines).toEqual(['c.yaml: trainer.order: got 3; expected 1 or 2 (line 4)']);
  });

  it('reports wrong types', () => {
    const text = MINIMAL.replace('{iterations: 100}', '{iterations: "many", batchedTasks: yes please}');
    const lines = problemsOf(() => parseConfigText(text, 'c.yaml'));
    expect(lines).toContain('c.yaml: trainer.iterations: got "many"; expected an integer >= 1 (line 4)');
    expect(lines).toContain(
      'c.yaml: trainer.batchedTasks: got "yes please"; expected true or false (line 4)',
    );
  });

  it('reports out-of-range numbers and non-integers', () => {
    const text = `${MINIMAL}seed: -1\n`.replace('{iterations: 100}', '{iterations: 0.5, innerLr: 0}');
    const lines = problemsOf(() => parseConfigText(text, 'c.yaml'));
    expect(lines).toContain('c.yaml: seed: got -1; expected an integer >= 0 (line 5)');
    expect(lines).toContain('c.yaml: trainer.iterations: got 0.5; expected an integer >= 1 (line 4)');
    expect(lines).toContain('c.yaml: trainer.innerLr: got 0; expected a number > 0 (line 4)');
  });

  it('reports missing required fields and unknown kinds', () => {
    const lines = problemsOf(() => parseConfigText('name: x\ndata: {kind: cifar}\n', 'c.yaml'));
    expect(lines).toContain('c.yaml: data.kind: got "cifar"; expected sinusoid or omniglot (line 2)');
    expect(lines).toContain(
      'c.yaml: model: missing (required); expected a mapping with kind one of mlp, maml-mlp, conv4',
    );
    expect(lines).toContain('c.yaml: trainer: missing (required); expected a mapping');
  });

  it('checks ranges such as [min, max]', () => {
    const lines = problemsOf(() =>
      parseConfigText(MINIMAL.replace('{kind: sinusoid}', '{kind: sinusoid, amplitude: [5, 1]}'), 'c.yaml'),
    );
    expect(lines[0]).toMatch(
      /^c\.yaml: data\.amplitude: got \[5, 1\]; expected \[min, max\] with min <= max/,
    );
  });

  it('applies overrides in order and names them in errors', () => {
    const c = parseConfigText(MINIMAL, 'c.yaml', [
      'trainer.innerSteps=5',
      'eval.steps=[1,5]',
      'backend=gpujs:webgpu',
      'trainer.innerSteps=7',
    ]);
    expect(c.trainer.innerSteps).toBe(7);
    expect(c.eval.steps).toEqual([1, 5]);
    expect(c.backend).toBe('gpujs:webgpu');
    const lines = problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['trainer.order=3']));
    expect(lines).toEqual(['--set trainer.order=3: trainer.order: got 3; expected 1 or 2']);
  });

  it('rejects malformed overrides', () => {
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['trainer.order']))[0]).toMatch(
      /expected key=value/,
    );
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['trainer..order=1']))[0]).toMatch(
      /not a field path/,
    );
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['eval.steps=[1,']))[0]).toMatch(
      /not valid YAML/,
    );
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['trainer.order=']))[0]).toMatch(/no value/);
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', ['name.x=1']))[0]).toMatch(
      /cannot set a field inside name/,
    );
    const env = { assignment: 'backend=tpu', source: 'METATAPE_BACKEND=tpu' };
    expect(problemsOf(() => parseConfigText(MINIMAL, 'c.yaml', [env]))[0]).toMatch(
      /^METATAPE_BACKEND=tpu: backend: got "tpu"/,
    );
  });

  it('names file, line and column on YAML syntax errors', () => {
    const lines = problemsOf(() =>
      parseConfigText('name: a\ndata:\n  kind: [sinusoid\nmodel: {kind: mlp}\n', 'bad.yaml'),
    );
    expect(lines[0]).toMatch(/^bad\.yaml:\d+:\d+: YAML syntax error: /);
  });

  it('rejects a document that is not a mapping', () => {
    expect(problemsOf(() => parseConfigText('- 1\n- 2\n', 'l.yaml'))).toEqual([
      'l.yaml: got a list; expected a mapping of config fields',
    ]);
  });
});

describe('loadConfig', () => {
  it('reads a file and reports a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-config-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, MINIMAL);
    expect((await loadConfig(file, ['seed=3'])).seed).toBe(3);
    await expect(loadConfig(join(dir, 'none.yaml'))).rejects.toThrow(
      /none\.yaml: cannot read config: file not found/,
    );
  });

  it('accepts every config shipped in configs/', async () => {
    const shipped = readdirSync('configs').filter((f) => f.endsWith('.yaml'));
    expect(shipped.length).toBeGreaterThan(8);
    for (const f of shipped) {
      await expect(loadConfig(join('configs', f)), f).resolves.toBeTruthy();
    }
  });
});
