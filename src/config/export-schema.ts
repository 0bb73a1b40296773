// Entry point of `npm run schema`: regenerates configs/schema.json from the zod config schema.
import { exportJsonSchema } from './jsonSchema.js';

const path = await exportJsonSchema(process.argv[2]);
process.stdout.write(`wrote ${path}\n`);
