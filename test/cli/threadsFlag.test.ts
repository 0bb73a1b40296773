import { describe, expect, it } from 'vitest';
import { overridesFromFlags } from '../../src/cli/globals.js';
import { parseConfigText } from '../../src/config/load.js';

const text = `name: t
data: { kind: sinusoid, shots: 5 }
model: { kind: mlp, hidden: [8] }
trainer: { iterations: 3, threads: 3 }
`;

describe('--threads', () => {
  it('overrides trainer.threads after --set', () => {
    const flags = { set: ['trainer.threads=2'], threads: 'auto' };
    expect(parseConfigText(text, 'c.yaml', overridesFromFlags(flags, {})).trainer.threads).toBe('auto');
    expect(parseConfigText(text, 'c.yaml', overridesFromFlags({ threads: '4' }, {})).trainer.threads).toBe(4);
    expect(parseConfigText(text, 'c.yaml', overridesFromFlags({}, {})).trainer.threads).toBe(3);
  });

  it('names the flag when its value is invalid', () => {
    expect(() => parseConfigText(text, 'c.yaml', overridesFromFlags({ threads: '0' }, {}))).toThrow(
      /--threads 0: trainer\.threads: got 0/,
    );
  });
});
