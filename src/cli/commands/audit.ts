// Placeholder: the `audit` command is being built (see the open issues).
import type { Command } from 'commander';
import type { CliContext } from '../context.js';

export function register(_program: Command, _ctx: CliContext): void {}
