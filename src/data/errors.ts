/**
 * Typed errors of the data layer. Every error that concerns a file names it, and where the user can fix the
 * problem by running a command, `hint` says which.
 */

/** Base class of every error the data layer throws, so callers can catch the family at once. */
export class DataError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataError';
  }
}

/** An input or output file is missing, truncated, corrupt or does not match its recorded checksum. */
export class DatasetFileError extends DataError {
  /** The offending file's path. */
  readonly file: string;
  /** What to do about it (a command or a folder to copy from); empty when nothing obvious helps. */
  readonly hint: string;

  constructor(file: string, problem: string, hint = '', options?: { cause?: unknown }) {
    super(`${file}: ${problem}${hint ? `. ${hint}` : ''}`, options);
    this.name = 'DatasetFileError';
    this.file = file;
    this.hint = hint;
  }
}

/** A caller passed options that cannot work (for example more shots than drawings per class). */
export class DataConfigError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'DataConfigError';
  }
}
