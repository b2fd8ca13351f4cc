#!/usr/bin/env node
// hwnas's ONNX Runtime runner (the "onnxruntime" target and the agreement tests call it through
// hw_targets/onnxruntime_runner.h). One node process times many models: a node start costs
// ~0.2 s, which would dominate a lookup table of ~100 single-layer models timed one per process.
//
//   node ort_run.js time --threads T --batch B --warmup W --runs R [--rounds K] [--profile-dir D] MODEL.onnx ...
//     one JSON line per model: {"model", "median_ms", "p10_ms", "p90_ms", "runs", "batch",
//     "threads", "ort_version"}; with --profile-dir, ONNX Runtime's profiler runs (its files go
//     to D) and the line adds "layers_ms" {"I": median ms of the nodes named "layerI/..." per
//     run}, "other_ms" (nodes of no layer, e.g. layout reorders) and "profiled_run_ms" (the
//     profiler's median whole run); median_ms, p10_ms and p90_ms then come from a twin session
//     without the profiler, run in the same rounds
//   node ort_run.js check MODEL.onnx IN.bin OUT.bin --shape N,C,H,W
//     runs the model on IN.bin (float32 little-endian, the given shape) and writes its first
//     output to OUT.bin (float32 little-endian); prints {"model", "output_shape"}
//   node ort_run.js version
//     prints {"ort_version"}: whether onnxruntime-node loads at all
//
// onnxruntime-node is looked up through NODE_PATH, then in ${HWNAS_NODE_DIR:-~/.cache/hwnas/node}
// (where tools/setup.sh installs it). Errors are one line on stderr and exit status 1 (2 for
// bad usage).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const USAGE = `usage:
  ort_run.js time --threads T --batch B --warmup W --runs R [--rounds K] [--profile-dir D] MODEL.onnx ...
  ort_run.js check MODEL.onnx IN.bin OUT.bin --shape N,C,H,W
  ort_run.js version
time:    sessions with intraOpNumThreads=T, interOpNumThreads=1, all graph optimizations,
         sequential execution; W untimed then R timed runs on a random input of the model's
         input shape with batch B; one JSON line per model with the median, p10 and p90 in ms.
         Defaults: --threads 1 --batch 1 --warmup 10 --runs 30 --rounds 1. --rounds K: the models'
         timed runs interleaved in K rounds (all sessions open at once). --profile-dir D: per-layer
         medians from ONNX Runtime's profiler (nodes named layerI/...), profile files in D.
check:   runs MODEL on the float32 input IN.bin of shape N,C,H,W; writes the float32 output.
version: prints the onnxruntime version (checks that onnxruntime-node loads).`;

class UsageError extends Error {}

function defaultNodeDir() {
  return process.env.HWNAS_NODE_DIR || path.join(os.homedir(), '.cache', 'hwnas', 'node');
}

function loadOrt() {
  const fallback = path.join(defaultNodeDir(), 'node_modules', 'onnxruntime-node');
  try {
    return require('onnxruntime-node');  // NODE_PATH
  } catch (e1) {
    if (e1.code !== 'MODULE_NOT_FOUND') throw e1;
    try {
      return require(fallback);
    } catch (e2) {
      if (e2.code !== 'MODULE_NOT_FOUND') throw e2;
      throw new Error(`onnxruntime-node not found (NODE_PATH=${process.env.NODE_PATH || ''}; ${fallback}): ` +
                      `run tools/setup.sh, or: npm install --ignore-scripts --prefix ${defaultNodeDir()} onnxruntime-node`);
    }
  }
}

// Flags (--name value) and positional arguments.
function parseArgs(argv, known) {
  const flags = {}, pos = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--help' || a === '-h') { console.log(USAGE); process.exit(0); }
    if (a.startsWith('--')) {
      const name = a.slice(2);
      if (!known.includes(name)) throw new UsageError(`unknown flag ${a} (known: ${known.map(k => '--' + k).join(', ')})`);
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      flags[name] = argv[++i];
    } else {
      pos.push(a);
    }
  }
  return { flags, pos };
}

function intFlag(flags, name, dflt, min) {
  if (!(name in flags)) return dflt;
  const s = flags[name];
  if (!/^-?\d+$/.test(s) || parseInt(s, 10) < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${s}"`);
  return parseInt(s, 10);
}

function requireFile(p, what) {
  if (!fs.existsSync(p)) throw new Error(`${what} ${p} does not exist`);
}

async function createSession(ort, model, threads, profilePrefix) {
  requireFile(model, 'model');
  const options = {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential',
  };
  if (profilePrefix) Object.assign(options, { enableProfiling: true, profileFilePrefix: profilePrefix });
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (e) {
    throw new Error(`${model}: cannot load: ${e.message || e}`);
  }
}

// The model's input dims with the batch dim set to `batch`; every other dim must be fixed.
function inputDims(session, model, batch) {
  const meta = session.inputMetadata && session.inputMetadata[0];
  if (!meta || !meta.isTensor || !Array.isArray(meta.shape)) throw new Error(`${model}: cannot read the input shape`);
  return meta.shape.map((d, i) => {
    if (i === 0) return batch;
    if (typeof d !== 'number' || d <= 0) throw new Error(`${model}: input dim ${i} is not fixed (${d})`);
    return d;
  });
}

// Quantiles with linear interpolation between order statistics (numpy's default).
function quantile(sorted, q) {
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function median(v) {
  return v.length ? quantile([...v].sort((a, b) => a - b), 0.5) : 0;
}

// Per-layer medians from a profile file (Chrome trace events): the node events inside each timed
// model_run (the warm-up runs come first and are skipped), summed per "layerI/" name prefix.
function layerProfile(file, warmup) {
  const events = JSON.parse(fs.readFileSync(file, 'utf8'));
  const runs = events.filter(e => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(warmup);
  const nodes = events.filter(e => e.cat === 'Node');
  const perLayer = {}, other = [], whole = [];
  runs.forEach((r, ri) => {
    const sums = {};
    let rest = 0;
    for (const e of nodes) {
      if (e.ts < r.ts || e.ts > r.ts + r.dur) continue;
      const m = /^layer(\d+)\//.exec(e.name);
      if (m) sums[m[1]] = (sums[m[1]] || 0) + e.dur / 1e3;
      else rest += e.dur / 1e3;
    }
    for (const k of Object.keys(sums)) {
      if (!perLayer[k]) perLayer[k] = new Array(ri).fill(0);
      perLayer[k].push(sums[k]);
    }
    for (const k of Object.keys(perLayer)) if (!(k in sums)) perLayer[k].push(0);
    other.push(rest);
    whole.push(r.dur / 1e3);
  });
  const layers = {};
  for (const k of Object.keys(perLayer)) layers[k] = median(perLayer[k]);
  return { layers_ms: layers, other_ms: median(other), profiled_run_ms: median(whole) };
}

async function timeModels(ort, argv) {
  const { flags, pos } = parseArgs(argv, ['threads', 'batch', 'warmup', 'runs', 'rounds', 'profile-dir']);
  const profileDir = flags['profile-dir'];
  if (profileDir && !fs.existsSync(profileDir)) throw new Error(`--profile-dir ${profileDir} does not exist`);
  const threads = intFlag(flags, 'threads', 1, 1), batch = intFlag(flags, 'batch', 1, 1);
  const warmup = intFlag(flags, 'warmup', 10, 0), runs = intFlag(flags, 'runs', 30, 1);
  const rounds = Math.min(runs, intFlag(flags, 'rounds', 1, 1));
  if (pos.length === 0) throw new UsageError('time needs at least one MODEL.onnx');
  for (const m of pos) requireFile(m, 'model');  // fail before spending time on the others
  // A fixed pseudo-random input (xorshift32 mapped to [-1, 1)): values, not zeros, so no kernel
  // takes a shortcut, and the same input in every run.
  let state = 0x9e3779b9;
  const rand = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0;
                       return state / 2147483648 - 1; };
  const models = [];
  for (const [index, model] of pos.entries()) {
    const prefix = profileDir ? path.join(profileDir, `profile${index}`) : null;
    const session = await createSession(ort, model, threads, prefix);
    const dims = inputDims(session, model, batch);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; ++i) data[i] = rand();
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
    for (let i = 0; i < warmup; ++i) await session.run(feeds);
    // Profiling slows every node down a little; a twin session without the profiler, run in the
    // same rounds, gives the whole-run time the plain `time` mode would report.
    const twin = prefix ? await createSession(ort, model, threads, null) : null;
    if (twin) for (let i = 0; i < warmup; ++i) await twin.run(feeds);
    models.push({ model, prefix, session, twin, feeds, ms: [], twinMs: [] });
  }
  // The timed runs interleaved in rounds (each model its share of the runs per round): on a
  // machine whose speed drifts over seconds, every model's runs span the same stretch of time.
  for (let r = 0; r < rounds; ++r) {
    const share = Math.floor(runs / rounds) + (r < runs % rounds ? 1 : 0);
    for (const m of models) {
      for (let i = 0; i < share; ++i) {
        const t = process.hrtime.bigint();
        await m.session.run(m.feeds);
        m.ms.push(Number(process.hrtime.bigint() - t) / 1e6);
        if (!m.twin) continue;
        const t2 = process.hrtime.bigint();
        await m.twin.run(m.feeds);
        m.twinMs.push(Number(process.hrtime.bigint() - t2) / 1e6);
      }
    }
  }
  for (const m of models) {
    await m.session.release();  // writes the profile file
    if (m.twin) await m.twin.release();
    const ms = [...(m.twin ? m.twinMs : m.ms)].sort((a, b) => a - b);
    const line = {
      model: m.model, median_ms: quantile(ms, 0.5), p10_ms: quantile(ms, 0.1), p90_ms: quantile(ms, 0.9), runs, rounds,
      batch, threads, ort_version: ort.env.versions.common,
    };
    if (m.prefix) {
      const base = path.basename(m.prefix) + '_';
      const files = fs.readdirSync(profileDir).filter(f => f.startsWith(base) && f.endsWith('.json'));
      if (files.length !== 1) throw new Error(`${m.model}: expected one profile file ${m.prefix}_*.json, found ${files.length}`);
      Object.assign(line, layerProfile(path.join(profileDir, files[0]), warmup));
    }
    console.log(JSON.stringify(line));
  }
}

async function check(ort, argv) {
  const { flags, pos } = parseArgs(argv, ['shape', 'threads']);
  if (pos.length !== 3) throw new UsageError('check needs MODEL.onnx IN.bin OUT.bin');
  if (!flags.shape) throw new UsageError('check needs --shape N,C,H,W');
  const [model, inPath, outPath] = pos;
  const dims = flags.shape.split(',').map(s => {
    if (!/^\d+$/.test(s) || parseInt(s, 10) <= 0) throw new UsageError(`--shape entries must be positive integers, got "${flags.shape}"`);
    return parseInt(s, 10);
  });
  requireFile(inPath, 'input');
  const buf = fs.readFileSync(inPath);
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * n) throw new Error(`${inPath}: ${buf.length} bytes, but shape ${dims.join('x')} needs ${4 * n}`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = buf.readFloatLE(4 * i);
  const session = await createSession(ort, model, intFlag(flags, 'threads', 1, 1));
  const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, dims) });
  const y = out[session.outputNames[0]];
  if (y.type !== 'float32') throw new Error(`${model}: output is ${y.type}, expected float32`);
  const ob = Buffer.alloc(4 * y.data.length);
  for (let i = 0; i < y.data.length; ++i) ob.writeFloatLE(y.data[i], 4 * i);
  fs.writeFileSync(outPath, ob);
  console.log(JSON.stringify({ model, output_shape: y.dims }));
}

(async () => {
  const [mode, ...rest] = process.argv.slice(2);
  try {
    if (!mode || mode === '--help' || mode === '-h') { console.log(USAGE); process.exit(mode ? 0 : 2); }
    if (!['time', 'check', 'version'].includes(mode)) throw new UsageError(`unknown mode "${mode}" (time, check, version)`);
    if (rest.includes('--help') || rest.includes('-h')) { console.log(USAGE); return; }
    const ort = loadOrt();
    if (mode === 'time') await timeModels(ort, rest);
    else if (mode === 'check') await check(ort, rest);
    else console.log(JSON.stringify({ ort_version: ort.env.versions.common }));
  } catch (e) {
    console.error(`ort_run: ${e.message || e}`);
    if (e instanceof UsageError) console.error(USAGE);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
})();
