/**
 * Omniglot: preparation, reading, splits and episode sampling. The CLI calls {@link prepareOmniglot},
 * {@link omniglotInfo} and {@link createOmniglotEpisodeSource}.
 */
export type { Alphabet } from './alphabets.js';
export {
  DRAWINGS,
  IMAGE_PIXELS,
  IMAGE_SIZE,
  OMNIGLOT_SPEC,
  type OmniglotSet,
  type OmniglotSourceSpec,
  PREPARE_COMMAND,
  type SetInfo,
  type SourceFile,
} from './constants.js';
export { type ContactSheetOptions, renderContactSheet } from './contact-sheet.js';
export {
  type EpisodeAugmentation,
  type EpisodeBatch,
  type EpisodeOptions,
  OmniglotEpisodeSampler,
} from './episodes.js';
export { type OmniglotInfo, type OmniglotInfoOptions, omniglotInfo, type SplitSummary } from './info.js';
export { MANIFEST_NAME, manifestCharacters, type OmniglotManifest, readManifest } from './manifest.js';
export { type PngDrawing, readOmniglotPngArchive } from './png-archive.js';
export { type PrepareOmniglotOptions, type PrepareOmniglotResult, prepareOmniglot } from './prepare.js';
export { createPreprocessor, DEFAULT_FILTER } from './preprocess.js';
export {
  type OmniglotCharacter,
  OmniglotImages,
  type OpenOmniglotOptions,
  openOmniglot,
  type VerifyLevel,
} from './reader.js';
export {
  createOmniglotEpisodeSource,
  type EpisodeSource,
  type OmniglotEpisodeSourceOptions,
  type OmniglotSplitName,
} from './source.js';
export {
  type MamlSplitOptions,
  mamlSplit,
  type OmniglotClass,
  type OmniglotSplit,
  parseVinyalsList,
  type QuarterTurns,
  readVinyalsList,
  type SplitSubset,
  type VinyalsList,
  vinyalsSplit,
} from './splits.js';
