import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHILD_SCRIPT_DIR, childScript } from '../../../shared/child-script.js';
import { PROJECT_DIR } from '../../../shared/project-path.js';
import { useTempDir } from '../../helpers/fixtures.js';

describe('childScript (a child process entry compiled, without tsx)', () => {
  const tmp = useTempDir();

  it('compiles a TypeScript entry and its imports into one module that plain node runs, named by its content', () => {
    const dir = tmp.dir;
    writeFileSync(join(dir, 'helper.ts'), 'export const twice = (n: number): number => n * 2;\n');
    // A .js import of a .ts file, as the sources write them; a package import stays an import.
    writeFileSync(join(dir, 'entry.ts'), "import { twice } from './helper.js';\nimport { z } from 'zod/v4';\nconst n: number = z.number().parse(21);\nconsole.log(twice(n));\n");
    const compiled = childScript(join(dir, 'entry.ts'));
    expect(compiled.fallbackReason).to.equal(undefined);
    expect(dirname(compiled.script)).to.equal(CHILD_SCRIPT_DIR.replace(/\/$/, ''));
    expect(compiled.script).to.match(/\/entry-[0-9a-f]{16}\.mjs$/);
    expect(compiled.execArgv).to.not.include('--import');
    expect(execFileSync(process.execPath, [...compiled.execArgv, compiled.script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })).to.equal('42\n');
    // Once per process: the same entry is not compiled again.
    expect(childScript(join(dir, 'entry.ts'))).to.equal(compiled);
  });

  it('leaves no esbuild process behind, running or unreaped', async () => {
    const children = (): string[] => execFileSync('ps', ['--ppid', String(process.pid), '-o', 'pid=,stat=,args='], { encoding: 'utf8' }).split('\n').filter((l) => l.trim().length > 0 && !l.includes(' ps --ppid'));
    const before = new Set(children());
    writeFileSync(join(tmp.dir, 'lone.ts'), 'console.log(1);\n');
    expect(childScript(join(tmp.dir, 'lone.ts')).fallbackReason).to.equal(undefined);
    // The JS API's buildSync left its esbuild process running (a zombie after stop()) for the life of the process.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(children().filter((c) => !before.has(c))).to.deep.equal([]);
  });

  it("names the project's files from a compiled module too (projectPath), whose import.meta.url is elsewhere", () => {
    writeFileSync(join(tmp.dir, 'paths.ts'), `import { projectPath } from '${join(PROJECT_DIR, 'shared/project-path.ts')}';\nconsole.log(import.meta.url);\nconsole.log(projectPath('bin/slave.js'));\n`);
    const compiled = childScript(join(tmp.dir, 'paths.ts'));
    expect(compiled.fallbackReason).to.equal(undefined);
    const [url, slave] = execFileSync(process.execPath, [compiled.script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }).trim().split('\n');
    expect(url).to.equal(pathToFileURL(compiled.script).href);
    expect(slave).to.equal(fileURLToPath(new URL('../../../bin/slave.js', import.meta.url)));
  });

  it("deletes an entry's other compiled files unused for a day, and nothing else", () => {
    const stamp = Date.now().toString(16).padStart(16, '0').slice(-16);
    const name = `prune${stamp.slice(-6)}`;
    const at = (file: string): string => join(CHILD_SCRIPT_DIR, file);
    const old = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    const files = { stale: `${name}-${'a'.repeat(16)}.mjs`, leftover: `${name}-${'b'.repeat(16)}.mjs.4242.tmp`, recent: `${name}-${'c'.repeat(16)}.mjs`, otherEntry: `${name}x-${'d'.repeat(16)}.mjs` };
    mkdirSync(CHILD_SCRIPT_DIR, { recursive: true });
    for (const f of Object.values(files)) writeFileSync(at(f), '');
    for (const f of [files.stale, files.leftover, files.otherEntry]) utimesSync(at(f), old, old);
    let compiled: ReturnType<typeof childScript> | undefined;
    try {
      writeFileSync(join(tmp.dir, `${name}.ts`), 'console.log(2);\n');
      compiled = childScript(join(tmp.dir, `${name}.ts`));
      expect(compiled.fallbackReason).to.equal(undefined);
      expect(existsSync(compiled.script)).to.equal(true);
      expect(existsSync(at(files.stale)), 'a day-old file of the entry').to.equal(false);
      expect(existsSync(at(files.leftover)), 'a day-old temporary file of the entry').to.equal(false);
      expect(existsSync(at(files.recent)), 'a recent file of the entry').to.equal(true);
      expect(existsSync(at(files.otherEntry)), "another entry's file").to.equal(true);
    } finally {
      // The entry's name is this run's own: nothing would prune its file later.
      for (const path of [...Object.values(files).map(at), ...(compiled === undefined ? [] : [compiled.script])]) rmSync(path, { force: true });
    }
  });

  it('writes its compiled file again when it was deleted since (by a newer version pruning it)', () => {
    writeFileSync(join(tmp.dir, 'again.ts'), 'console.log(3);\n');
    const compiled = childScript(join(tmp.dir, 'again.ts'));
    const content = readFileSync(compiled.script);
    rmSync(compiled.script);
    // A worker restarted later: the same entry, this process's version of it.
    expect(childScript(join(tmp.dir, 'again.ts'))).to.equal(compiled);
    expect(readFileSync(compiled.script).equals(content)).to.equal(true);
  });

  it('falls back to tsx, saying why, when the entry does not compile', () => {
    const entry = join(tmp.dir, 'broken.ts');
    writeFileSync(entry, 'export const x = ;\n');
    const compiled = childScript(entry);
    expect(compiled.script).to.equal(entry);
    expect(compiled.execArgv[0]).to.equal('--import');
    expect(compiled.execArgv[1]).to.match(/tsx/);
    expect(compiled.fallbackReason).to.match(/^esbuild: Unexpected ";" at .*broken\.ts:1:17/);
  });
});
