/**
 * `metatape datasets prepare omniglot`: converts the source files into Arrow IPC files plus a manifest and a
 * dataset card. All inputs are verified and all outputs are computed before anything is written, and every
 * output is staged and renamed into place, so a failure leaves the output folder as it was.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type StagedFile, stageFile } from '../../io/atomic.js';
import { bytesDigest } from '../checksum.js';
import { DataConfigError } from '../errors.js';
import type { ResampleFilter } from '../image/resample.js';
import { type Alphabet, checkAlphabetTable, parseAlphabetCsv } from './alphabets.js';
import { arrowFileName, encodeSetArrow } from './arrow-format.js';
import { CARD_NAME, renderCard } from './card.js';
import {
  DRAWINGS,
  IMAGE_SIZE,
  OMNIGLOT_SETS,
  OMNIGLOT_SPEC,
  type OmniglotSet,
  type OmniglotSourceSpec,
} from './constants.js';
import { type FetchLike, fetchOfficialArchive } from './download.js';
import { formatManifest, MANIFEST_NAME, type ManifestFile, type OmniglotManifest } from './manifest.js';
import { assembleRawSet, readOmniglotPngArchive } from './png-archive.js';
import { DEFAULT_FILTER, preprocessSet } from './preprocess.js';
import type { RawOmniglotSet } from './raw-set.js';
import { decodeNpzSet, readVerifiedSource } from './sources.js';

/** Options of {@link prepareOmniglot}. */
export interface PrepareOmniglotOptions {
  /** Folder holding `images_background.npz`, `images_evaluation.npz` and `id_to_alphabet.csv`. */
  from?: string;
  /** Output folder; created if needed. Default `datasets/omniglot` (relative to the working directory). */
  out?: string;
  /**
   * Fetch the official PNG archives from `brendenlake/omniglot` (cached under `<out>/raw/`, which is
   * gitignored) instead of reading `from`.
   */
  download?: boolean;
  /** Resampling filter for 105 -> 28; default `lanczos3` (Pillow's LANCZOS, as MAML). */
  filter?: ResampleFilter;
  /** Progress messages (one line each), for the CLI to log. */
  onProgress?: (message: string) => void;
  /** Replaces the global fetch for `download` (tests, proxies). */
  fetchImpl?: FetchLike;
  /**
   * What the files in `from` hold and their sizes and digests; default {@link OMNIGLOT_SPEC} (the real
   * Omniglot). A small synthetic Omniglot passes its own to go through the same checks and conversion. Not
   * used with `download`, whose archives are always the real ones.
   */
  spec?: OmniglotSourceSpec;
}

/** What {@link prepareOmniglot} produced. */
export interface PrepareOmniglotResult {
  /** The output folder. */
  out: string;
  /** The manifest as written. */
  manifest: OmniglotManifest;
  /** Absolute or relative paths of every file written (Arrow files, manifest, card). */
  written: string[];
  /** Wall time in seconds. */
  seconds: number;
}

interface LoadedSources {
  kind: OmniglotManifest['source']['kind'];
  files: OmniglotManifest['source']['files'];
  alphabets: Alphabet[];
  /** Decodes a set on demand, so only one set at source resolution (~200 MB) is in memory at a time. */
  load(set: OmniglotSet): RawOmniglotSet;
}

/**
 * Converts Omniglot into `<out>/omniglot-{background,evaluation}-28.arrow`, `<out>/manifest.json` and
 * `<out>/README.md` (the dataset card).
 *
 * @example
 * await prepareOmniglot({ from: '../shared/datasets/omniglot', out: 'datasets/omniglot' });
 * @throws DataConfigError when neither `from` nor `download` is given.
 * @throws DatasetFileError naming the file when a source is missing, truncated or fails its checksum (with a
 *   hint: the shared folder or `--download`); nothing is written in that case.
 */
export async function prepareOmniglot(options: PrepareOmniglotOptions): Promise<PrepareOmniglotResult> {
  const started = performance.now();
  const out = options.out ?? join('datasets', 'omniglot');
  const filter = options.filter ?? DEFAULT_FILTER;
  const progress = options.onProgress ?? (() => undefined);
  let sources: LoadedSources;
  if (options.download) {
    sources = await loadOfficialArchives(join(out, 'raw'), options.fetchImpl, progress);
  } else if (options.from !== undefined) {
    sources = await loadNpzSources(options.from, options.spec ?? OMNIGLOT_SPEC, progress);
  } else {
    throw new DataConfigError('prepareOmniglot: give a source folder (from) or set download');
  }

  const outputs: { name: string; data: Uint8Array | string }[] = [];
  const files: ManifestFile[] = [];
  const metadata = {
    filter,
    source_kind: sources.kind,
    source_digests: sources.files.map((f) => `${f.name}=${f.digest}`).join(';'),
  };
  for (const set of OMNIGLOT_SETS) {
    const raw = sources.load(set);
    progress(`resizing ${set} (${raw.characters * DRAWINGS} images, ${filter})`);
    const pixels = preprocessSet(raw, filter);
    const data = encodeSetArrow(set, raw.firstId, raw.characters, pixels, sources.alphabets, metadata);
    const file = arrowFileName(set);
    outputs.push({ name: file, data });
    files.push({
      file,
      set,
      rows: raw.characters * DRAWINGS,
      characters: raw.characters,
      firstId: raw.firstId,
      bytes: data.length,
      sha256: bytesDigest(data),
    });
  }
  const manifest: OmniglotManifest = {
    dataset: 'omniglot',
    formatVersion: 1,
    imageSize: IMAGE_SIZE,
    filter,
    inkValue: 255,
    source: { kind: sources.kind, files: sources.files },
    alphabets: [...sources.alphabets].sort((a, b) => a.firstId - b.firstId),
    files,
  };
  outputs.push({ name: MANIFEST_NAME, data: formatManifest(manifest) });
  outputs.push({ name: CARD_NAME, data: renderCard(manifest) });

  await mkdir(out, { recursive: true });
  const staged: StagedFile[] = [];
  try {
    for (const o of outputs) staged.push(await stageFile(join(out, o.name), o.data));
    for (const s of staged) await s.commit();
  } catch (error) {
    await Promise.all(staged.map((s) => s.discard()));
    throw error;
  }
  const written = staged.map((s) => s.path);
  progress(`wrote ${written.join(', ')}`);
  return { out, manifest, written, seconds: (performance.now() - started) / 1000 };
}

async function loadNpzSources(
  from: string,
  spec: OmniglotSourceSpec,
  progress: (m: string) => void,
): Promise<LoadedSources> {
  // Verify every input before decoding any, so a bad second file fails fast.
  const csvBytes = await readVerifiedSource(from, spec.alphabetCsv);
  const npzBytes = {} as Record<OmniglotSet, Uint8Array>;
  for (const set of OMNIGLOT_SETS) npzBytes[set] = await readVerifiedSource(from, spec.npz[set]);
  const alphabets = parseAlphabetCsv(
    new TextDecoder().decode(csvBytes),
    join(from, spec.alphabetCsv.name),
    spec.sets,
  );
  const load = (set: OmniglotSet): RawOmniglotSet => {
    progress(`decoding ${spec.npz[set].name}`);
    return decodeNpzSet(npzBytes[set], join(from, spec.npz[set].name), set, spec.sets[set]);
  };
  const files = [spec.alphabetCsv, spec.npz.background, spec.npz.evaluation].map((f) => ({
    name: f.name,
    bytes: f.bytes,
    digest: `sha256:${f.sha256}`,
  }));
  return { kind: 'npz', files, alphabets, load };
}

async function loadOfficialArchives(
  cacheDir: string,
  fetchImpl: FetchLike | undefined,
  progress: (m: string) => void,
): Promise<LoadedSources> {
  const sets = {} as Record<OmniglotSet, RawOmniglotSet>;
  const alphabets: Alphabet[] = [];
  const files: OmniglotManifest['source']['files'] = [];
  for (const set of OMNIGLOT_SETS) {
    progress(`fetching the official ${set} archive`);
    const { path, archive } = await fetchOfficialArchive(set, cacheDir, fetchImpl);
    const bytes = await readFile(path);
    const assembled = assembleRawSet(readOmniglotPngArchive(bytes, path), set, path);
    sets[set] = assembled.raw;
    alphabets.push(...assembled.alphabets);
    files.push({ name: archive.name, bytes: archive.bytes, digest: `md5:${archive.md5}` });
  }
  checkAlphabetTable(alphabets, cacheDir);
  return { kind: 'official-png', files, alphabets, load: (set) => sets[set] };
}
