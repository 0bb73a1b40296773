import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { trainingConfigHash } from '../../src/config/hash.js';
import { buildJsonSchema } from '../../src/config/jsonSchema.js';
import { parseConfigText } from '../../src/config/load.js';
import { closestMatch } from '../../src/config/suggest.js';
import { expandGrid, parseAxis } from '../../src/config/sweep.js';

const MINIMAL = 'name: sine\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer: {iterations: 100}\n';

describe('closestMatch', () => {
  it('suggests near misses only', () => {
    expect(closestMatch('innerStep', ['innerSteps', 'innerLr'])).toBe('innerSteps');
    expect(closestMatch('metabatchsize', ['metaBatchSize'])).toBe('metaBatchSize');
    expect(closestMatch('zzz', ['order', 'innerLr'])).toBeUndefined();
  });
});

describe('trainingConfigHash', () => {
  it('ignores iterations, eval and output but not the model', () => {
    const a = parseConfigText(MINIMAL, 'c');
    expect(
      trainingConfigHash(
        parseConfigText(MINIMAL, 'c', ['trainer.iterations=5', 'eval.tasks=3', 'output.dir=x']),
      ),
    ).toBe(trainingConfigHash(a));
    expect(trainingConfigHash(parseConfigText(MINIMAL, 'c', ['model.hidden=[10]']))).not.toBe(
      trainingConfigHash(a),
    );
  });
});

describe('sweep grid', () => {
  it('expands the cartesian product with labels', () => {
    const points = expandGrid([
      parseAxis('trainer.innerSteps=[1,5]'),
      parseAxis('trainer.innerLr=[0.01, 0.1]'),
    ]);
    expect(points.map((p) => p.label)).toEqual([
      'innerSteps-1_innerLr-0.01',
      'innerSteps-1_innerLr-0.1',
      'innerSteps-5_innerLr-0.01',
      'innerSteps-5_innerLr-0.1',
    ]);
    expect(points[3]!.overrides).toEqual(['trainer.innerSteps=5', 'trainer.innerLr=0.1']);
    expect(parseConfigText(MINIMAL, 'c', points[3]!.overrides).trainer.innerLr).toBe(0.1);
  });
  it('rejects a malformed axis', () => {
    expect(() => parseAxis('trainer.innerSteps')).toThrow(/expected field=\[v1, v2/);
    expect(() => parseAxis('seed=[]')).toThrow(/at least one value/);
  });
});

describe('JSON schema', () => {
  it('is draft-07, strict, and matches configs/schema.json', () => {
    const schema = buildJsonSchema() as {
      $schema: string;
      additionalProperties: boolean;
      required: string[];
    };
    expect(schema.$schema).toContain('draft-07');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['name', 'data', 'model', 'trainer']));
    expect(JSON.parse(readFileSync('configs/schema.json', 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(schema)),
    );
  });
});
