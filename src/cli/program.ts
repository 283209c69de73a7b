// The whole CLI at a glance: one explicit list of command modules (wrangler's registry).
// Command modules only declare flags and call the layers below through dynamic import(),
// so building this program loads nothing heavy.
import { Command, Option } from 'commander';
import { ExitCode, UsageError } from '../errors.js';
import type { CliContext } from './context.js';
import { acceptedOutput, OUTPUT_FORMATS } from './context.js';
import { sanitizeMessage } from '../output/sanitize.js';
import * as android from './commands/android.js';
import * as apply from './commands/apply.js';
import * as audit from './commands/audit.js';
import * as commands from './commands/commands.js';
import * as completion from './commands/completion.js';
import * as compliance from './commands/compliance.js';
import * as context from './commands/context.js';
import * as deviceActions from './commands/device-actions.js';
import * as devices from './commands/devices.js';
import * as enroll from './commands/enroll.js';
import * as exportCmd from './commands/export.js';
import * as init from './commands/init.js';
import * as plan from './commands/plan.js';
import * as schema from './commands/schema.js';
import * as server from './commands/server.js';
import * as simulate from './commands/simulate.js';
import * as validate from './commands/validate.js';
import * as version from './commands/version.js';

export interface CommandModule {
  register(program: Command, ctx: CliContext): void;
}

export const COMMAND_MODULES: readonly CommandModule[] = [
  validate, init, schema,
  plan, apply, exportCmd,
  enroll, devices, compliance, deviceActions, commands, audit,
  context, server, android, simulate, completion, version,
];

// `text` and `github` are formats for problem reports, not records: the one global -o accepts
// them, and only the commands listed here may be given them (checked before the action runs).
export const REPORT_FORMATS = ['text', 'github'] as const;
const REPORT_COMMANDS = new Set(['validate']);

export const EXIT_CODES_HELP = `
Exit codes:
  ${ExitCode.OK}    success
  ${ExitCode.ERROR}    runtime failure (backend unreachable, server error, I/O error)
  ${ExitCode.USAGE}    usage error (bad flag or argument; destructive command without --yes off a terminal)
  ${ExitCode.INVALID}    policy files are invalid
  ${ExitCode.CHANGES}    plan has changes (plan --detailed-exitcode)
  ${ExitCode.NONCOMPLIANT}    compliance gate failed (compliance --fail-on)
  ${ExitCode.CANCELLED}  cancelled`;

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('emmctl')
    .description('Policy-as-code for Enterprise Mobility Management: validate, plan and apply device policy, enroll devices, lock/wipe/retire, report compliance.')
    .version(typeof EMMCTL_VERSION === 'string' ? EMMCTL_VERSION : '0.0.0-dev', '-V, --version')
    .option('--context <name>', 'use this context (see `emmctl context list`); env EMMCTL_CONTEXT')
    .option('--data-dir <dir>', 'embedded store directory; env EMMCTL_DATA_DIR')
    .addOption(new Option('-o, --output <format>', 'output format for records (validate: text, json, github)').choices([...OUTPUT_FORMATS, ...REPORT_FORMATS]))
    .option('-q, --quiet', 'print only data and errors')
    .option('--no-color', 'disable colour (also NO_COLOR=1)')
    .option('--debug', 'show stack traces and request details')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (root, action) => {
      // Global options (-q above all) take effect for every command, not only those that read them.
      ctx.globals(action);
      const output = action.optsWithGlobals().output as string | undefined;
      if (output && (REPORT_FORMATS as readonly string[]).includes(output) && !(action.parent === root && REPORT_COMMANDS.has(action.name()))) {
        throw new UsageError(`-o ${output} is only for \`emmctl validate\`; this command prints ${OUTPUT_FORMATS.join(', ')}`);
      }
      const accepted = acceptedOutput(action);
      if (output && accepted && !accepted.includes(output)) {
        const names: string[] = [];
        for (let c: Command | null = action; c && c !== root; c = c.parent) names.unshift(c.name());
        const name = `\`emmctl ${names.join(' ')}\``;
        if (accepted.length === 0) throw new UsageError(`${name} has no -o output, so -o ${output} would be ignored`, 'leave out -o');
        throw new UsageError(`${name} prints ${accepted.join(', ')}, not ${output}`, `use -o ${accepted.join(' or -o ')}`);
      }
    })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(sanitizeMessage(s, { keepColor: ctx.io.colorStderr })),
      outputError: (s, write) => write(ctx.err.red(s)),
    })
    .addHelpText('after', `${EXIT_CODES_HELP}

Environment:
  EMMCTL_CONTEXT, EMMCTL_SERVER, EMMCTL_TOKEN, EMMCTL_DATA_DIR, EMMCTL_CONFIG_DIR, NO_COLOR

Start with:  emmctl init my-policies && emmctl validate my-policies`);
  for (const module of COMMAND_MODULES) module.register(program, ctx);
  // Subcommands inherit the error/exit behaviour of the root.
  for (const command of program.commands) applyInheritedSettings(command, ctx);
  return program;
}

function applyInheritedSettings(command: Command, ctx: CliContext): void {
  // Every command's help lists the global options (--context, -o, -q...) it also takes.
  command.configureHelp({ showGlobalOptions: true });
  command.exitOverride().showSuggestionAfterError(true).configureOutput({
    writeOut: (s) => ctx.io.stdout.write(s),
    writeErr: (s) => ctx.io.stderr.write(sanitizeMessage(s, { keepColor: ctx.io.colorStderr })),
    outputError: (s, write) => write(ctx.err.red(s)),
  });
  for (const sub of command.commands) applyInheritedSettings(sub, ctx);
}
