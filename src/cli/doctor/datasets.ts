import { check } from './checks.js';
import type { DoctorCheck } from './types.js';

/**
 * The datasets a config may need: Omniglot prepared (image counts and sizes verified). A missing dataset
 * is a warning, not a failure: sinusoid runs need none.
 */
export async function datasetChecks(datasetDir?: string): Promise<DoctorCheck[]> {
  return [
    await check(
      'omniglot',
      async () => {
        const { omniglotInfo } = await import('../../data/omniglot/info.js');
        const info = await omniglotInfo({ verify: 'size', ...(datasetDir ? { dir: datasetDir } : {}) });
        return `${info.dir}: ${info.counts.total.images} images (sizes verified)`;
      },
      'warn',
    ),
  ];
}
