// The file of exported checkpoints: one signed checkpoint a line (NDJSON), or the admin API's document {"checkpoints": [...]}.
import { parseSignedCheckpoint, type SignedCheckpoint } from '../../core/checkpoints/checkpoint.js';

/** The text does not hold signed checkpoints in either form; `message` names the entry. */
export class CheckpointFileError extends Error {
  override readonly name = 'CheckpointFileError';
}

/** One checkpoint a line, as `portcullis checkpoints export` writes it. */
export const checkpointLines = (checkpoints: readonly SignedCheckpoint[]): string => checkpoints.map((c) => `${JSON.stringify(c)}\n`).join('');

/**
 * The checkpoints in an exported file, in file order (entry n is the n-th, 1-based). Their
 * signatures are not checked here.
 * @throws CheckpointFileError when an entry is not a signed checkpoint
 */
export function parseCheckpointFile(text: string): SignedCheckpoint[] {
  const document = wholeDocument(text);
  const entries: { value: unknown; where: string }[] = document
    ? document.map((value, i) => ({ value, where: `checkpoints[${i}]` }))
    : text.split('\n').flatMap((line, i) => (line.trim() === '' ? [] : [{ value: parseLine(line, i + 1), where: `line ${i + 1}` }]));
  return entries.map(({ value, where }) => {
    const checkpoint = parseSignedCheckpoint(value);
    if (!checkpoint) throw new CheckpointFileError(`${where} is not a signed checkpoint`);
    return checkpoint;
  });
}

/** The array of a `{"checkpoints": [...]}` document, else undefined (the text is NDJSON, or nothing valid). */
function wholeDocument(text: string): unknown[] | undefined {
  if (!/^\s*\{\s*"checkpoints"/.test(text)) return undefined;
  try {
    const value = JSON.parse(text) as { checkpoints?: unknown };
    return Array.isArray(value.checkpoints) ? value.checkpoints : undefined;
  } catch {
    return undefined;
  }
}

function parseLine(line: string, n: number): unknown {
  try {
    return JSON.parse(line);
  } catch {
    throw new CheckpointFileError(`line ${n} is not JSON`);
  }
}
