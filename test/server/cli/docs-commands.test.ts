// Every `portcullis …` command the docs and the README show exists in the CLI's own help, with the options they give it.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { expect } from 'chai';

import { PORTCULLIS } from '../../../server/cli/commands.js';
import { runCommandLine } from '../../../server/cli/command-line.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(path);
    return entry.name.endsWith('.md') ? [path] : [];
  });
}

export interface DocCommand {
  /** `docs/tokens.md:156` */
  readonly where: string;
  /** The command words as written, e.g. `['tokens', 'create']` (a second word may be an argument: `apply gateway`). */
  readonly words: readonly string[];
  /** The `--options` written after it. */
  readonly options: readonly string[];
}

/**
 * The code of a Markdown file: fenced blocks line by line (a line ending in `\` joined with the
 * next), and inline code spans. Prose is left out: it says "portcullis is listening".
 */
function codeOf(markdown: string): { line: number; text: string }[] {
  const code: { line: number; text: string }[] = [];
  const lines = markdown.split('\n');
  let fence: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (marker && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence !== undefined) {
      let text = line;
      const start = i;
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++i]!.trim()}`;
      code.push({ line: start + 1, text });
    } else {
      for (const span of line.matchAll(/`([^`]+)`/g)) code.push({ line: i + 1, text: span[1]! });
    }
  }
  return code;
}

/**
 * `portcullis` (or `node dist/server/cli.js`) where a shell would run it: at the start, after a prompt, `npx`, `$(`, a pipe or
 * `&&`, or environment assignments. Not `portcullis.yaml`, `"service":"portcullis"`, `portcullis-provider-x` or an error line `portcullis: …`.
 */
const INVOCATION = /(?:^|[$(|;&]\s*|\bnpx\s+|(?:^|\s)[A-Z_][A-Z0-9_]*=\S*\s+)(?:portcullis|node\s+\S*dist\/server\/cli\.js)((?:\s+[a-z][a-z-]*){0,2})(?![\w.:-])(.*)$/;

/** Options up to where the shell starts another command (a pipe into another program, `;`, `&&`, `)`, a comment). */
function optionsIn(rest: string): string[] {
  const own = rest.split(/\s(?:\|\s+(?=[a-z])|;|&&|#)|\)/)[0] ?? '';
  return [...own.matchAll(/(?:^|[\s[|])(--[a-z][a-z-]*)/g)].map((m) => m[1]!);
}

export function commandsIn(file: string, markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  for (const { line, text } of codeOf(markdown)) {
    const match = INVOCATION.exec(text.trim().replace(/^\$\s+/, ''));
    if (!match) continue;
    const words = match[1]!.trim().split(/\s+/).filter(Boolean);
    const options = optionsIn(`${match[1]}${match[2]}`);
    // The bare name (`portcullis` is the command) shows nothing to check.
    if (words.length > 0 || options.length > 0) found.push({ where: `${file}:${line}`, words, options });
  }
  return found;
}

async function helpOf(words: readonly string[]): Promise<{ status: number | 'running'; text: string }> {
  const out: string[] = [];
  const status = await runCommandLine(PORTCULLIS, [...words, '--help'], { out: (t) => void out.push(t), err: (t) => void out.push(t) });
  return { status, text: out.join('') };
}

describe('docs: every portcullis command shown exists in the CLI', () => {
  const files = [join(ROOT, 'README.md'), ...markdownFiles(join(ROOT, 'docs'))];
  const commands = files.flatMap((path) => commandsIn(relative(ROOT, path), readFileSync(path, 'utf8')));

  it('finds the commands the docs show', () => {
    const shown = new Set(commands.map((c) => c.words.join(' ')));
    // The README's Commands section shows each of these; if this fails, the parser lost its way.
    for (const command of ['serve', 'verify', 'export', 'tokens create', 'tokens list', 'tokens revoke']) expect(shown).to.include(command);
  });

  it('each one answers `portcullis <command> --help` with exit 0, and has every option the docs give it', async () => {
    const problems: string[] = [];
    for (const { where, words, options } of commands) {
      const help = await helpOf(words);
      if (help.status !== 0) {
        problems.push(`${where}: \`portcullis ${words.join(' ')}\` is not a command (${help.text.trim()})`);
        continue;
      }
      for (const option of options) {
        if (!new RegExp(`${option}(?![\\w-])`).test(help.text)) problems.push(`${where}: \`portcullis ${words.join(' ')}\` has no option ${option}`);
      }
    }
    expect(problems, problems.join('\n')).to.deep.equal([]);
  });
});

describe('docs: how commands are found in Markdown', () => {
  const find = (markdown: string) => commandsIn('x.md', markdown).map(({ words, options }) => ({ words, options }));

  it('reads fenced blocks with prompts, continuations, npx and environment assignments, and inline code', () => {
    const markdown = [
      'Run `portcullis tokens list --json`, then:',
      '```sh',
      '$ PORTCULLIS_LISTEN=nonsense portcullis serve --workers 2',
      'npx portcullis verify',
      'node dist/server/cli.js export --output x.yaml',
      'portcullis tokens create --owner alice \\',
      '    --name ci --read-only',
      'PCL=$(portcullis tokens create --owner ci --name deploy --service)',
      'portcullis tokens list | grep --count alice',
      'portcullis tokens revoke <id> | --owner <name> [--reason text]',
      '```',
    ].join('\n');
    expect(find(markdown)).to.deep.equal([
      { words: ['tokens', 'list'], options: ['--json'] },
      { words: ['serve'], options: ['--workers'] },
      { words: ['verify'], options: [] },
      { words: ['export'], options: ['--output'] },
      { words: ['tokens', 'create'], options: ['--owner', '--name', '--read-only'] },
      { words: ['tokens', 'create'], options: ['--owner', '--name', '--service'] },
      { words: ['tokens', 'list'], options: [] },
      { words: ['tokens', 'revoke'], options: ['--owner', '--reason'] },
    ]);
  });

  it('leaves out prose, file names, log lines and package names', () => {
    const markdown = [
      'portcullis serve in prose is not a command.',
      '```',
      '{"service":"portcullis","msg":"portcullis is listening"}',
      'cp portcullis.yaml /etc/',
      'npm install portcullis-provider-example',
      'portcullis: invalid process configuration:',
      '```',
      'See `portcullis.yaml`, `./portcullis`, `portcullis: …` and the `portcullis` command.',
    ].join('\n');
    expect(find(markdown)).to.deep.equal([]);
  });

  it('reports a command the CLI does not have', async () => {
    expect((await helpOf(['no-such-command'])).status).to.equal(2);
  });
});
