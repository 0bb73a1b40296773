import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, MAX_CONFIG_BYTES, MAX_REPORTED_PROBLEMS } from '../../src/config/errors.js';
import { loadConfig, parseConfigText } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'mt-hostile-config-'));

async function loadError(name: string, content: string | Uint8Array): Promise<ConfigError> {
  const file = join(dir, name);
  writeFileSync(file, content);
  const err = await loadConfig(file).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('hostile configs get one bounded answer', () => {
  it('refuses a config over the size limit before reading it, naming the file and the limit', async () => {
    const err = await loadError('huge.yaml', `name: x\nnotes: "${'a'.repeat(MAX_CONFIG_BYTES)}"\n`);
    expect(err.message).toBe(
      `${join(dir, 'huge.yaml')}: config is 1.0 MiB; the limit is 1.0 MiB (a config is a few KB: is this the right file?)`,
    );
    expect(() => parseConfigText('a'.repeat(MAX_CONFIG_BYTES + 1), 'text.yaml')).toThrow(
      /the limit is 1\.0 MiB/,
    );
  });

  it('lists the first problems of a config with thousands and counts the rest', async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `  bogus${i}: ${i}`).join('\n');
    const err = await loadError(
      'many.yaml',
      `name: x\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer:\n  iterations: 10\n${keys}\n`,
    );
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(MAX_REPORTED_PROBLEMS + 1);
    expect(lines[0]).toMatch(/trainer\.bogus0: unknown key/);
    expect(lines.at(-1)).toBe(
      `${join(dir, 'many.yaml')}: ... and ${20_000 - MAX_REPORTED_PROBLEMS} more problems (fix these first)`,
    );
    expect(err.total).toBe(20_000);
  });

  it('caps YAML syntax errors the same way', () => {
    const text = Array.from({ length: 500 }, () => 'a: [b\n').join('');
    const err = (() => {
      try {
        parseConfigText(text, 'broken.yaml');
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message.split('\n').length).toBeLessThanOrEqual(MAX_REPORTED_PROBLEMS + 1);
    expect(err.message).toMatch(/YAML syntax error/);
  });

  it('turns an alias bomb into a config error naming the file', async () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'name: [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    ].join('\n');
    const err = await loadError('bomb.yaml', bomb);
    expect(err.message).toMatch(new RegExp(`^${join(dir, 'bomb.yaml')}: YAML aliases expand too far`));
  });

  it('does not echo binary garbage back', async () => {
    const garbage = new Uint8Array(6000);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) % 256;
    const err = await loadError('garbage.yaml', garbage);
    expect(err.message).toMatch(
      /: not a text config: (control byte 0x[0-9a-f]{2}|bytes that are not UTF-8) at line \d+/,
    );
    expect(err.message.length).toBeLessThan(300);
    const png = await loadError('image.yaml', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'));
    expect(png.message).toMatch(/not a text config/);
  });

  it('quotes long string values shortened', () => {
    const err = (() => {
      try {
        parseConfigText(
          `name: x\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\nbackend: "${'z'.repeat(5000)}"\n`,
          'c.yaml',
        );
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err.message).toMatch(/backend: got "z{57}"\.\.\./);
    expect(err.message.length).toBeLessThan(600);
  });
});
