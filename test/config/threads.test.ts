import { describe, expect, it } from 'vitest';
import { kernelThreadsUnavailable } from '../../src/backends/cpu/kernelThreads.js';
import { trainingConfigHash } from '../../src/config/hash.js';
import { parseConfigText } from '../../src/config/load.js';
import { trainerParallelism } from '../../src/meta/setup.js';

const text = `name: t
data: { kind: sinusoid, shots: 5 }
model: { kind: mlp, hidden: [8] }
trainer: { iterations: 3 }
`;

describe('trainer.threads', () => {
  it('defaults to 1 and takes a positive integer or auto', () => {
    expect(parseConfigText(text, 'c.yaml').trainer.threads).toBe(1);
    expect(parseConfigText(text, 'c.yaml', ['trainer.threads=4']).trainer.threads).toBe(4);
    expect(parseConfigText(text, 'c.yaml', ['trainer.threads=auto']).trainer.threads).toBe('auto');
  });

  it.each(['0', '1.5', 'many', '-2'])(
    'rejects %s with a message that names the field and what is allowed',
    (v) => {
      expect(() => parseConfigText(text, 'c.yaml', [`trainer.threads=${v}`])).toThrow(
        /trainer\.threads: got .+; expected an integer >= 1 or auto/,
      );
    },
  );

  it('rejects splitting the tasks of iMAML, which are coupled, over threads', () => {
    expect(() =>
      parseConfigText(text, 'c.yaml', [
        'trainer.algorithm=imaml',
        'trainer.threads=2',
        'trainer.parallelism=tasks',
      ]),
    ).toThrow(/trainer\.threads.*imaml couples the tasks.*parallelism kernels/s);
    // Kernel threads split nothing across tasks: the setup decides (trainerParallelism, below).
    expect(
      parseConfigText(text, 'c.yaml', ['trainer.algorithm=imaml', 'trainer.threads=2']).trainer.threads,
    ).toBe(2);
    expect(
      parseConfigText(text, 'c.yaml', ['trainer.algorithm=imaml', 'trainer.threads=auto']).trainer.threads,
    ).toBe('auto');
  });

  it('leaves the config hash alone (threads change summation order, not what a checkpoint holds)', () => {
    const one = parseConfigText(text, 'c.yaml');
    const two = parseConfigText(text, 'c.yaml', ['trainer.threads=2']);
    expect(trainingConfigHash(two)).toBe(trainingConfigHash(one));
    const other = parseConfigText(text, 'c.yaml', ['trainer.innerSteps=2']);
    expect(trainingConfigHash(other)).not.toBe(trainingConfigHash(one));
  });
});

describe('trainer.parallelism', () => {
  it('defaults to auto and takes kernels or tasks', () => {
    expect(parseConfigText(text, 'c.yaml').trainer.parallelism).toBe('auto');
    for (const v of ['kernels', 'tasks'])
      expect(parseConfigText(text, 'c.yaml', [`trainer.parallelism=${v}`]).trainer.parallelism).toBe(v);
  });

  it('rejects anything else, naming the field, the value and what is allowed', () => {
    expect(() => parseConfigText(text, 'c.yaml', ['trainer.parallelism=cores'])).toThrow(
      /trainer\.parallelism: got "?cores"?.*auto.*kernels.*tasks/s,
    );
  });

  it('leaves the config hash alone', () => {
    const one = parseConfigText(text, 'c.yaml');
    const kernels = parseConfigText(text, 'c.yaml', ['trainer.parallelism=kernels']);
    expect(trainingConfigHash(kernels)).toBe(trainingConfigHash(one));
  });

  it('auto is tasks where its slices run as kernel programs, else kernels where the native kernels are loaded, else tasks; kernels without them is an error', () => {
    const sliceable = { taskSlicesUnavailable: () => undefined };
    const notReplayed = { taskSlicesUnavailable: () => 'no kernel replay: turned off (kernelReplay: false)' };
    const auto = parseConfigText(text, 'c.yaml', ['trainer.threads=2']);
    const kernels = parseConfigText(text, 'c.yaml', ['trainer.threads=2', 'trainer.parallelism=kernels']);
    const tasks = parseConfigText(text, 'c.yaml', ['trainer.threads=2', 'trainer.parallelism=tasks']);
    expect(trainerParallelism(tasks, 2)).toBe('tasks');
    expect(trainerParallelism(kernels, 1)).toBe('tasks');
    const imaml = parseConfigText(text, 'c.yaml', ['trainer.algorithm=imaml', 'trainer.threads=2']);
    if (kernelThreadsUnavailable() === undefined) {
      expect(trainerParallelism(auto, 2, sliceable)).toBe('tasks');
      expect(trainerParallelism(auto, 2, notReplayed)).toBe('kernels');
      expect(trainerParallelism(auto, 2)).toBe('kernels');
      expect(trainerParallelism(kernels, 2, sliceable)).toBe('kernels');
      expect(trainerParallelism(imaml, 2, sliceable)).toBe('kernels');
    } else {
      expect(trainerParallelism(auto, 2, sliceable)).toBe('tasks');
      expect(trainerParallelism(auto, 2, notReplayed)).toBe('tasks');
      expect(() => trainerParallelism(kernels, 2)).toThrow(/trainer\.parallelism: got kernels.*setup:native/);
      expect(() => trainerParallelism(imaml, 2)).toThrow(/imaml couples the tasks.*only parallelism kernels/);
    }
  });
});
