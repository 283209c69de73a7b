// Colour decided per stream from the IOStreams, never at import time.
import { Chalk, type ChalkInstance } from 'chalk';

export type Colors = ChalkInstance;

export function colors(enabled: boolean): Colors {
  return new Chalk({ level: enabled ? 1 : 0 });
}
