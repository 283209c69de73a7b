// `emmctl android signup`: binds an Android Enterprise to the Google Cloud project of a service
// account, the two calls Google documents for an EMM: signupUrls.create gives a URL the admin
// opens in a browser (signing in with the Google account that is to own the enterprise); Google
// then redirects to the callback URL with an `enterpriseToken`, which enterprises.create turns
// into the enterprise (`enterprises/LC…`) that `emmctl server --android-enterprise` manages.
// The enterprise token is a one-time secret: read from a terminal prompt (masked) or stdin, never
// a flag, never printed. stdout carries the enterprise name alone (or -o json|yaml), so a script
// can take it; the instructions go to stderr.
import type { Command } from 'commander';
import { acceptsOutput, type CliContext } from '../context.js';

interface SignupOptions {
  projectId?: string;
  callbackUrl: string;
  adminEmail?: string;
  displayName?: string;
  googleCredentials?: string;
  amapiEndpoint?: string;
  enterpriseTokenStdin?: boolean;
}

export interface SignupResult {
  enterprise: string;
  projectId: string;
  signupUrl: string;
  enterpriseDisplayName?: string;
}

export function register(program: Command, ctx: CliContext): void {
  const android = program
    .command('android')
    .description('Android devices through Google\'s Android Management API: bind an enterprise to your Google Cloud project (docs/android.md)');
  const signup = android
    .command('signup')
    .description('create an Android Enterprise for this EMM: signupUrls.create, the admin signs up in a browser, enterprises.create; prints the enterprise name')
    .requiredOption('--callback-url <url>', 'where Google sends the admin\'s browser after signup, with ?enterpriseToken=… (https, or http://localhost)')
    .option('--project-id <id>', 'the Google Cloud project (default: project_id of the key file)')
    .option('--admin-email <email>', 'pre-fill the admin\'s e-mail on Google\'s signup page')
    .option('--display-name <name>', 'the enterprise\'s name as Google shows it to users')
    .option('--google-credentials <file>', `the service account's JSON key; env GOOGLE_APPLICATION_CREDENTIALS`)
    .option('--amapi-endpoint <url>', 'the Android Management API root (default https://androidmanagement.googleapis.com/)')
    .option('--enterprise-token-stdin', 'read the enterpriseToken (or the whole callback URL) from standard input instead of a prompt')
    .addHelpText('after', `
Steps: emmctl asks Google for a signup URL and shows it; open it in a browser and sign up with
the Google account that is to administer the enterprise; Google then opens the callback URL with
?enterpriseToken=… appended. Paste that token (or the whole URL) at the prompt, or pipe it with
--enterprise-token-stdin. emmctl creates the enterprise and prints its name.

Examples:
  $ emmctl android signup --google-credentials sa.json --callback-url https://emm.example.com/android/signup
  $ emmctl android signup --project-id acme-emm --callback-url http://localhost:8080/ --enterprise-token-stdin < token.txt

Next: emmctl server --android-enterprise enterprises/LC… --google-credentials FILE`)
    .action(async (opts: SignupOptions, command: Command) => {
      await runSignup(ctx, command, opts);
    });
  acceptsOutput(signup, ['table', 'json', 'yaml']);
}

async function runSignup(ctx: CliContext, command: Command, opts: SignupOptions): Promise<void> {
  const { UsageError, OutcomeUnknownError } = await import('../../errors.js');
  const { loadServiceAccountKey, GoogleTokenSource, endpointProblem } = await import('../../channels/android/auth.js');
  const { AmapiClient, AmapiCallError } = await import('../../channels/android/client.js');
  const globals = ctx.globals(command);
  const callbackProblem = endpointProblem(opts.callbackUrl);
  if (callbackProblem) throw new UsageError(`--callback-url ${callbackProblem}`);
  if (opts.adminEmail !== undefined && !/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(opts.adminEmail)) throw new UsageError(`--admin-email "${opts.adminEmail}" is not an e-mail address`);
  if (opts.displayName !== undefined && (opts.displayName.trim() === '' || [...opts.displayName].length > 100)) throw new UsageError('--display-name must be 1–100 characters');
  // The enterprise token cannot be waited for without a terminal or stdin: say so before asking Google for anything.
  if (!opts.enterpriseTokenStdin && !ctx.canPrompt()) {
    throw new UsageError('no terminal to paste the enterprise token on; nothing was done', 'pass --enterprise-token-stdin and give the token (or the callback URL) on standard input');
  }
  const { key, file } = await loadServiceAccountKey(opts.googleCredentials, ctx.io.env, (m) => ctx.warn(m));
  const projectId = opts.projectId ?? key.projectId;
  if (!projectId) throw new UsageError(`${file} names no project_id: pass --project-id`);
  if (!/^[a-z][a-z0-9.:-]{0,127}$/i.test(projectId)) throw new UsageError(`--project-id "${projectId}" is not a Google Cloud project id`);
  const debug = globals.debug ? (line: string) => ctx.io.stderr.write(`${line}\n`) : undefined;
  const client = new AmapiClient({ endpoint: opts.amapiEndpoint, tokens: new GoogleTokenSource(key), log: debug });

  // A key file jose cannot sign with is the admin's to fix (exit 2), however deep it surfaced.
  const signupUrl = await client.createSignupUrl(projectId, opts.callbackUrl, opts.adminEmail).catch((error: unknown) => {
    throw error instanceof AmapiCallError && error.cause instanceof UsageError ? error.cause : error;
  });
  // The URL is what the admin needs to go on: shown even with -q.
  ctx.io.stderr.write(`Open this URL in a browser and sign up with the Google account that is to administer the enterprise:\n\n  ${signupUrl.url}\n\nGoogle then opens ${opts.callbackUrl} with ?enterpriseToken=… appended.\n`);
  const raw = opts.enterpriseTokenStdin ? await readStdin(ctx) : await promptToken(ctx);
  const enterpriseToken = enterpriseTokenFrom(raw);
  if (!enterpriseToken) throw new UsageError('that is not an enterprise token (nor a URL with ?enterpriseToken=…); nothing was created', 'run emmctl android signup again: a signup URL is used once');

  let enterprise: { name: string } & Record<string, unknown>;
  try {
    enterprise = await client.createEnterprise(projectId, signupUrl.name, enterpriseToken, opts.displayName ? { enterpriseDisplayName: opts.displayName } : {});
  } catch (error) {
    if (error instanceof AmapiCallError && error.outcome === 'unknown') {
      throw new OutcomeUnknownError(`Google may or may not have created the enterprise: ${error.message}`, {
        hint: `the enterprise token is used once, so do not simply run this again: look for the enterprise in the Google Cloud project ${projectId} (Android Management API, or the admin's Google account at play.google.com/work) first`,
        cause: error,
      });
    }
    throw error;
  }
  const result: SignupResult = { enterprise: enterprise.name, projectId, signupUrl: signupUrl.name };
  if (typeof enterprise.enterpriseDisplayName === 'string') result.enterpriseDisplayName = enterprise.enterpriseDisplayName;
  const format = globals.output;
  if (format === 'json' || format === 'yaml') {
    const { renderDocument } = await import('../../output/render.js');
    await renderDocument(result, format, ctx.io.stdout);
  } else {
    ctx.print(`${result.enterprise}\n`);
  }
  ctx.info(`Created the Android Enterprise ${result.enterprise} in project ${projectId}.`);
  ctx.info(`Next: emmctl server --android-enterprise ${result.enterprise} --google-credentials ${shellWord(file)}`);
}

async function readStdin(ctx: CliContext): Promise<string> {
  if (ctx.io.stdin.isTTY) ctx.io.stderr.write('Paste the enterpriseToken (or the whole callback URL), then press Ctrl-D:\n');
  let text = '';
  ctx.io.stdin.setEncoding('utf8');
  for await (const chunk of ctx.io.stdin) {
    text += chunk;
    if (text.length > 16 * 1024) break;
  }
  return text.trim().split(/\r?\n/)[0]?.trim() ?? '';
}

async function promptToken(ctx: CliContext): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  return password({ message: 'enterpriseToken (or the whole callback URL):', mask: '*' }, { input: ctx.io.stdin, output: ctx.io.stderr, clearPromptOnDone: false });
}

/** The token itself, or the enterpriseToken parameter of a pasted callback URL; undefined when it is neither. */
export function enterpriseTokenFrom(input: string): string | undefined {
  const s = input.trim();
  let token = s;
  if (/^https?:\/\//i.test(s)) {
    try {
      token = new URL(s).searchParams.get('enterpriseToken') ?? '';
    } catch {
      return undefined;
    }
  }
  return /^[A-Za-z0-9._~+/=-]{1,2048}$/.test(token) ? token : undefined;
}

function shellWord(s: string): string {
  return /^[A-Za-z0-9_./:@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
