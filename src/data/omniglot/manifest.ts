/**
 * The manifest written beside the prepared files: what was produced, from what, and the checksums a reader
 * verifies on open. It contains no timestamps so that re-preparing the same sources reproduces it byte for
 * byte (it is committed).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { DatasetFileError } from '../errors.js';
import { prepareCommand } from './constants.js';

/** The manifest's file name inside the dataset folder. */
export const MANIFEST_NAME = 'manifest.json';

const fileEntry = z.object({
  file: z.string(),
  set: z.enum(['background', 'evaluation']),
  rows: z.number().int().nonnegative(),
  characters: z.number().int().nonnegative(),
  firstId: z.number().int().positive(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Schema of `manifest.json`. */
export const manifestSchema = z.object({
  dataset: z.literal('omniglot'),
  formatVersion: z.literal(1),
  imageSize: z.number().int().positive(),
  filter: z.string(),
  inkValue: z.literal(255),
  source: z.object({
    kind: z.enum(['npz', 'official-png']),
    files: z.array(z.object({ name: z.string(), bytes: z.number().int(), digest: z.string() })),
  }),
  alphabets: z.array(
    z.object({
      set: z.enum(['background', 'evaluation']),
      name: z.string(),
      firstId: z.number().int(),
      lastId: z.number().int(),
    }),
  ),
  files: z.array(fileEntry),
});

/** The parsed manifest. */
export type OmniglotManifest = z.infer<typeof manifestSchema>;
/** One prepared file's entry in the manifest. */
export type ManifestFile = z.infer<typeof fileEntry>;

/** Serialises a manifest the way `prepare` writes it (stable key order, 2-space indent, final newline). */
export function formatManifest(manifest: OmniglotManifest): string {
  return `${JSON.stringify(manifestSchema.parse(manifest), null, 2)}\n`;
}

/**
 * Reads and validates `manifest.json` from a prepared dataset folder.
 *
 * @throws DatasetFileError naming the manifest, with the command that recreates it, when it is missing or
 *   invalid.
 */
export async function readManifest(dir: string): Promise<OmniglotManifest> {
  const path = join(dir, MANIFEST_NAME);
  const hint = `Run: ${prepareCommand(dir)}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DatasetFileError(path, 'missing manifest (the dataset has not been prepared)', hint, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DatasetFileError(path, 'manifest is not valid JSON', hint, { cause });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new DatasetFileError(
      path,
      `invalid manifest (${parsed.error.issues[0]?.message ?? 'schema'})`,
      hint,
    );
  }
  return parsed.data;
}

/**
 * Characters of the prepared dataset (1,623 for Omniglot; fewer for a small synthetic one), the `characters`
 * a MAML split of it needs.
 */
export function manifestCharacters(manifest: OmniglotManifest): number {
  return manifest.files.reduce((sum, f) => sum + f.characters, 0);
}
