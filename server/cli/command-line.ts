// The command line's machinery: find a command in the table, check its options and arguments, print help, and end every failure in one line and an exit status.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { renderFailure } from './errors.js';
import type { Output } from './output.js';
import { UsageError } from './usage-error.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** May be given several times (its value is then a list). */
  readonly multiple?: boolean;
  /** How help shows the value of a string option: `<n>`. */
  readonly value?: string;
  /** The only values it takes; anything else is a usage error. */
  readonly choices?: readonly string[];
  /** The command cannot run without it. */
  readonly required?: boolean;
  readonly help: string;
}

export type OptionValue = string | boolean | readonly string[] | undefined;

export interface CommandInput {
  /** Option values by long name, already checked against the command's {@link OptionSpec}s. */
  readonly values: Readonly<Record<string, OptionValue>>;
  /** The arguments after the command's words, as many as its `args` allow. */
  readonly positionals: readonly string[];
  /** `--config <file>`, before or after the command. */
  readonly config: string | undefined;
  readonly output: Output;
}

/**
 * One command of the table. Adding a command is adding one of these: help, option checks and
 * exit statuses come with it.
 *
 * @example
 * { words: ['audit', 'stats'], summary: 'count decisions by reason', options: { json: JSON_OPTION }, run: ({ output }) => … }
 */
export interface CommandSpec {
  /** The words that name it: `['serve']`, `['tokens', 'create']` (commands sharing a first word form a group). */
  readonly words: readonly string[];
  /** Its arguments as help shows them: `<file.yaml>` is required, `[<id>]` optional. */
  readonly args?: readonly string[];
  /** One line, for `portcullis --help`. */
  readonly summary: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** More help: what it prints, what it needs. */
  readonly details?: string;
  /** Resolves with the exit status, or 'running' when the process keeps serving. */
  run(input: CommandInput): Promise<number | 'running'>;
}

export interface CommandLine {
  readonly table: readonly CommandSpec[];
  /** Asked only for `--version`. */
  readonly version: () => string;
}

/** Options every command takes. */
const GLOBAL: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', short: 'c', value: '<file>', help: 'the process configuration (default: ./portcullis.yaml if it exists)' },
  help: { type: 'boolean', short: 'h', help: 'print this help' },
};
/** Options before any command word. */
const TOP: Readonly<Record<string, OptionSpec>> = {
  ...GLOBAL,
  version: { type: 'boolean', short: 'v', help: 'print the version' },
};

const EXIT_STATUS = 'exit status: 0 done; 1 failed, the reason on stderr; 2 a command line it cannot act on (see --help)';

const name = (spec: CommandSpec): string => spec.words.join(' ');
const synopsis = (spec: CommandSpec): string => [...spec.words, ...(spec.args ?? [])].join(' ');

/** Run `argv` (without `node` and the script): the exit status, or 'running'. Failures are written to `output.err`, never thrown. */
export async function runCommandLine(cli: CommandLine, argv: readonly string[], output: Output, debug = false): Promise<number | 'running'> {
  try {
    return await interpret(cli, argv, output);
  } catch (err) {
    const failure = renderFailure(err, debug);
    output.err(failure.text);
    return failure.status;
  }
}

/** The options before the first word (`--config x tokens list`), and where the words start. */
function leadingOptions(argv: readonly string[]): { lead: string[]; index: number } {
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index]!;
    if (arg === '--config' || arg === '-c') index += 2;
    else if (arg.startsWith('--config=') || ['--help', '-h', '--version', '-v'].includes(arg)) index += 1;
    else break;
  }
  return { lead: argv.slice(0, Math.min(index, argv.length)), index };
}

async function interpret(cli: CommandLine, argv: readonly string[], output: Output): Promise<number | 'running'> {
  const { lead, index } = leadingOptions(argv);
  const word = argv[index];
  if (word === undefined || word.startsWith('-')) {
    const { values } = parse(undefined, argv, TOP);
    if (values.version) output.out(`portcullis ${cli.version()}\n`);
    else if (values.help) output.out(topHelp(cli.table));
    else {
      output.err(topHelp(cli.table));
      return 2;
    }
    return 0;
  }
  if (word === 'help') return help(cli.table, argv.slice(index + 1).filter((a) => a !== '--help' && a !== '-h'), output);

  const group = cli.table.filter((c) => c.words[0] === word);
  if (group.length === 0) throw new UsageError(`unknown command ${JSON.stringify(word)} (portcullis --help lists the commands)`);
  // The action may follow options every command takes: `tokens --config x.yaml list`.
  const between = leadingOptions(argv.slice(index + 1));
  const sub = argv[index + 1 + between.index];
  const single = group.find((c) => c.words.length === 1);
  const spec = single ?? group.find((c) => c.words[1] === sub);
  const rest = spec && !single ? [...lead, ...between.lead, ...argv.slice(index + 2 + between.index)] : [...lead, ...argv.slice(index + 1)];
  if (!spec) {
    if (rest.includes('--help') || rest.includes('-h')) {
      output.out(groupHelp(word, group));
      return 0;
    }
    const actions = group.map((c) => c.words[1]).join(', ');
    if (sub === undefined || sub.startsWith('-')) throw new UsageError(`${word}: name an action: ${actions} (portcullis ${word} --help)`);
    throw new UsageError(`${word}: unknown action ${JSON.stringify(sub)}: ${actions}`);
  }

  const options = { ...spec.options, ...GLOBAL };
  const { values, positionals } = parse(name(spec), rest, options);
  if (values.help) {
    output.out(commandHelp(spec));
    return 0;
  }
  check(spec, values, positionals);
  const config = values.config as string | undefined;
  return spec.run({ values, positionals, config, output });
}

/** Parse strictly: an option the command does not have, or a value missing, is a usage error naming it. */
function parse(command: string | undefined, args: readonly string[], options: Readonly<Record<string, OptionSpec>>): { values: Readonly<Record<string, OptionValue>>; positionals: string[] } {
  const config: NonNullable<ParseArgsConfig['options']> = Object.fromEntries(
    Object.entries(options).map(([long, o]) => [long, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) }]),
  );
  try {
    const { values, positionals } = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true });
    // Booleans are never `multiple` here, so a list is a list of strings.
    return { values: values as Record<string, OptionValue>, positionals };
  } catch (err) {
    const unknown = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: false, tokens: true }).tokens.find(
      (t) => t.kind === 'option' && !Object.hasOwn(options, t.name),
    );
    if (unknown?.kind === 'option') {
      throw new UsageError(command ? `${command}: ${unknown.rawName} is not an option of \`${command}\`` : `unknown option ${unknown.rawName} (portcullis --help)`);
    }
    // node:util's first sentence names the option and what is wrong with its value.
    const first = (err as Error).message.split('\n')[0]!.replace(/\.$/, '');
    throw new UsageError(command ? `${command}: ${first}` : first);
  }
}

/** Required options, allowed values, and the number of arguments. */
function check(spec: CommandSpec, values: Readonly<Record<string, OptionValue>>, positionals: readonly string[]): void {
  const command = name(spec);
  for (const [long, option] of Object.entries(spec.options ?? {})) {
    const value = values[long];
    if (option.required && value === undefined) throw new UsageError(`${command}: --${long} is required`);
    if (option.choices && typeof value === 'string' && !option.choices.includes(value)) {
      throw new UsageError(`${command}: --${long} must be one of: ${option.choices.join(', ')}`);
    }
  }
  const args = spec.args ?? [];
  const required = args.filter((a) => !a.startsWith('[')).length;
  if (positionals.length < required) throw new UsageError(`${command}: missing ${args[positionals.length]} (usage: portcullis ${synopsis(spec)})`);
  if (positionals.length > args.length) throw new UsageError(`${command}: unexpected argument ${JSON.stringify(positionals[args.length])}`);
}

/** `portcullis help [<command> [<action>]]`. */
function help(table: readonly CommandSpec[], words: readonly string[], output: Output): number {
  if (words.length === 0) {
    output.out(topHelp(table));
    return 0;
  }
  const spec = table.find((c) => c.words.length === words.length && c.words.every((w, i) => w === words[i]));
  if (spec) {
    output.out(commandHelp(spec));
    return 0;
  }
  const group = words.length === 1 ? table.filter((c) => c.words[0] === words[0]) : [];
  if (group.length === 0) throw new UsageError(`help: no command ${JSON.stringify(words.join(' '))} (portcullis --help lists the commands)`);
  output.out(groupHelp(words[0]!, group));
  return 0;
}

/** Two columns, the first padded to its longest entry. */
function columns(rows: readonly (readonly [string, string])[], indent = '  '): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `${indent}${left.padEnd(width)}${right}`.trimEnd()).join('\n');
}

function optionRows(options: Readonly<Record<string, OptionSpec>>): [string, string][] {
  return Object.entries(options).map(([long, o]) => {
    const value = o.type === 'string' ? ` ${o.value ?? (o.choices ? o.choices.join('|') : '<value>')}` : '';
    return [`${o.short ? `-${o.short}, ` : '    '}--${long}${value}`, o.required ? `${o.help} (required)` : o.help];
  });
}

function commandBlock(spec: CommandSpec): string {
  const parts = [`usage: portcullis ${synopsis(spec)} [options]`, '', spec.summary, '', 'options:', columns(optionRows({ ...spec.options, ...GLOBAL }))];
  if (spec.details) parts.push('', spec.details.trimEnd());
  return parts.join('\n');
}

export function commandHelp(spec: CommandSpec): string {
  return `${commandBlock(spec)}\n\n${EXIT_STATUS}\n`;
}

function groupHelp(word: string, group: readonly CommandSpec[]): string {
  const actions = group.map((c) => c.words[1]).join('|');
  return `usage: portcullis ${word} ${actions} [options]\n\n${group.map(commandBlock).join('\n\n')}\n\n${EXIT_STATUS}\n`;
}

export function topHelp(table: readonly CommandSpec[]): string {
  const commands = columns([...table.map((c): [string, string] => [synopsis(c), c.summary]), ['help [<command>]', "print a command's options"]]);
  return [
    'usage: portcullis <command> [options]',
    '',
    'commands:',
    commands,
    '',
    'options:',
    columns(optionRows(TOP)),
    '',
    '`portcullis <command> --help` (or `portcullis help <command>`) prints its options.',
    EXIT_STATUS,
    '',
  ].join('\n');
}
