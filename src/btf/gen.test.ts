import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { UsageError } from '../errors.js';
import { ElfFile } from '../elf/elf-file.js';
import { Btf } from './btf.js';
import { compileDecoder } from './decoder.js';
import { generateTypeScript } from './gen.js';
import { BtfBuilder } from './test-support/btf-builder.js';
import { objectNames, readObject } from '../elf/test-support/fixtures.js';

function objectBtf(name: string): Btf {
  return Btf.parse(ElfFile.parse(readObject(name)).section('.BTF')!.data);
}

/** Type-checks modules (written to a temporary directory) with strict settings; returns the diagnostics. */
function typecheck(files: Record<string, string>): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'bpfpipe-gen-'));
  try {
    const paths = Object.entries(files).map(([name, src]) => {
      const p = join(dir, name);
      writeFileSync(p, src);
      return p;
    });
    const options: ts.CompilerOptions = {
      strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], noUnusedLocals: true, skipLibCheck: true, types: [],
    };
    const program = ts.createProgram(paths, options);
    return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a generated module (transpiled to JS) and returns its exports. */
function load(source: string): Record<string, unknown> {
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
  const module = { exports: {} as Record<string, unknown> };
  new Function('module', 'exports', js)(module, module.exports);
  return module.exports;
}

function namedStructs(btf: Btf): string[] {
  return [...new Set(btf.types.filter((t) => (t.kind === 'struct' || t.kind === 'union') && t.name !== '').map((t) => t.name))];
}

describe('generateTypeScript', () => {
  it('generates a module that type-checks and decodes like compileDecoder, for every named struct of every object', () => {
    const files: Record<string, string> = {};
    const modules: { name: string; btf: Btf; src: string }[] = [];
    for (const name of objectNames()) {
      const btf = objectBtf(name);
      const src = generateTypeScript(btf, namedStructs(btf));
      files[`${name}.ts`] = src;
      modules.push({ name, btf, src });
    }
    // A consumer using the types: fails to compile if the generated types are wrong.
    files['use.ts'] = [
      "import { decodeSample, SAMPLE_SIZE, type Sample, type Color } from './decode_types';",
      'const v = new DataView(new ArrayBuffer(SAMPLE_SIZE));',
      'const s: Sample = decodeSample(v, 0);',
      'const c: Color = s.color;',
      'const big: bigint = s.u64v + s.s64v;',
      'const n: number = s.u8v + s.flag_b + s.where.x + s.path[1]!.y + s.u.as_bytes[0]!;',
      'const t: string = s.name;',
      'const ok: boolean = s.ok;',
      'export { c, big, n, t, ok };',
    ].join('\n');
    assert.deepEqual(typecheck(files), []);
    for (const { name, btf, src } of modules) {
      const exports = load(src);
      for (const struct of namedStructs(btf)) {
        const t = btf.findByName(struct, 'struct') ?? btf.findByName(struct, 'union')!;
        const dec = compileDecoder(btf, t.id);
        const fnName = src.split(`/** Decodes ${t.kind} ${struct} from`)[1]?.match(/\nexport function (\w+)\(/)?.[1];
        assert.ok(fnName, `${name}: decoder for ${struct}`);
        const bytes = new Uint8Array(dec.size + 3);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 37 + 11) & 0xff;
        const view = new DataView(bytes.buffer);
        assert.deepEqual((exports[fnName] as (v: DataView, o: number) => unknown)(view, 3), dec.decode(view, 3), `${name}: ${struct}`);
      }
    }
  });

  it('emits the expected declarations for struct sample', () => {
    const src = generateTypeScript(objectBtf('decode_types'), ['sample']);
    assert.match(src, /export type Color = "RED" \| "GREEN" \| "BLUE" \| number;/);
    assert.match(src, /export interface Point \{\n  x: number;\n  y: number;\n\}/);
    assert.match(src, /export interface Sample \{[^}]*u64v: bigint;[^}]*color: Color;[^}]*name: string;[^}]*ports: number\[\];[^}]*where: Point;[^}]*path: Point\[\];/s);
    assert.match(src, /export const SAMPLE_SIZE = 104;/);
    assert.match(src, /export function decodeSample\(v: DataView, o = 0\): Sample \{/);
    const { decodeSample } = load(src) as { decodeSample: (v: DataView) => unknown };
    assert.throws(() => decodeSample(new DataView(new ArrayBuffer(10))), /struct sample: need 104 bytes at offset 0, the view has 10/);
  });

  it('keeps hostile BTF names out of the code and comments', () => {
    const b = new BtfBuilder();
    const u8 = b.int('unsigned char', 1);
    b.struct('x*/ evil `${1}`', 2, [['a-b', u8, 0], ['__proto__', u8, 8]]);
    const src = generateTypeScript(Btf.parse(b.build()), ['x*/ evil `${1}`']);
    assert.deepEqual(typecheck({ 'evil.ts': src }), []);
    const exports = load(src);
    const decode = Object.entries(exports).find(([k]) => k.startsWith('decode'))![1] as (v: DataView) => Record<string, number>;
    assert.deepEqual(Object.entries(decode(new DataView(Uint8Array.of(1, 2).buffer))), [['a-b', 1], ['__proto__', 2]]);
  });

  it('unknown struct names are a usage error listing the structs', () => {
    assert.throws(() => generateTypeScript(objectBtf('tc_events'), ['nope']), (e: unknown) => e instanceof UsageError && /struct 'nope' is not in the object's BTF \(structs: .*event/.test(e.message));
    assert.throws(() => generateTypeScript(objectBtf('tc_events'), []), UsageError);
  });
});
