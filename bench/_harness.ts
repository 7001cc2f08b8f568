// Copyright 2026 the weight-decay authors. MIT license.
// deno-lint-ignore-file no-console -- a benchmark's output is its console
/**
 * The benchmark harness: every figure is a candidate timed against a baseline on the
 * same device and the same bytes, side by side, in rounds that take turns.
 *
 * - A *comparison* has variants (one step of work each) and figures, each a candidate
 *   variant against a baseline variant of the same comparison (or a candidate alone,
 *   timed). Each repetition times every variant once, in turns; the order alternates
 *   between repetitions (A B C, then C B A), so a slow drift of the machine weighs on
 *   all variants alike.
 * - GPU work is timed as K steps then one `onSubmittedWorkDone`, less one step then one
 *   wait: the marginal cost `(T(K) - T(1)) / (K - 1)`, since the wait alone costs ~11 ms
 *   in Deno; a timing whose K steps took no longer than one step (a noise spike) is
 *   taken again, up to three times. Host work is timed as calls repeated for at least
 *   `minMs`.
 * - A figure is the median, over the repetitions, of each repetition's ratio
 *   `baseline ms / candidate ms`: speed relative to the baseline, above 1 when faster.
 *   Its min and max are printed with it.
 *
 * Sections run one after another; each prints its comparisons as they finish, then one
 * table of every figure follows, with the run's total duration. {@linkcode runBenchmarks}
 * also returns everything as a plain value ({@linkcode BenchResults}) for the JSON file
 * that `tools/performance_doc.ts` turns into `docs/performance.md`.
 *
 * @module
 */

/** One step of work, timed by its comparison's timer. */
export interface Variant {
  /** Its name in the output, unique within its comparison. */
  readonly name: string;
  /**
   * One step. GPU work is submitted and not awaited (the timer waits once after K
   * steps); host work may return a promise, which is awaited inside the timing.
   */
  readonly step: () => void | Promise<void>;
  /**
   * Untimed work before each step, for the host timer only: e.g. an optimizer's
   * `assign`, to time the step that follows it.
   */
  readonly before?: () => void;
  /**
   * K for this variant, under a GPU timer: fewer for a slow step, whose one step
   * already dwarfs the ~11 ms of a wait.
   *
   * @default {the timer's steps}
   */
  readonly steps?: number;
}

/** K steps, then one wait for the GPU; the marginal cost of a step. */
export interface GpuTimer {
  readonly kind: "gpu";
  /** The device the steps run on: its queue is waited on, its errors fail the run. */
  readonly device: GPUDevice;
  /** K: steps before the one wait, at least 2. */
  readonly steps: number;
  /** Submits work the steps left recorded but unsubmitted (e.g. TensorFlow.js's encoder). */
  readonly flush?: () => void;
}

/** Calls repeated until `minMs` have passed; the mean time of a call. */
export interface HostTimer {
  readonly kind: "host";
  /**
   * Least milliseconds of calls per variant and repetition.
   *
   * @default {50}
   */
  readonly minMs?: number;
  /** Untimed, after each variant's calls: e.g. waiting for the GPU work they queued. */
  readonly settle?: () => Promise<void>;
}

/** How a comparison's variants are timed. */
export type Timer = GpuTimer | HostTimer;

/** What a figure must reach: a speed ratio at least this, or a time below this. */
export type Goal = { readonly atLeast: number } | { readonly belowMs: number };

/** One row of the final table. */
export interface Figure {
  /** What the row says, e.g. "fused GpuDecay.step". */
  readonly label: string;
  /** The variant timed. */
  readonly candidate: string;
  /**
   * The variant it is compared with; without one, the figure is the candidate's time.
   */
  readonly baseline?: string;
  /**
   * How it reads: `"baseline"`, speed relative to the baseline (`baseline ms /
   * candidate ms`); `"limit"`, the same ratio against a speed it is not expected to
   * beat ("0.9x of the limit"); `"extra"`, the time the candidate adds to the baseline
   * (`candidate ms - baseline ms`).
   *
   * @default {"baseline"}
   */
  readonly terms?: "baseline" | "limit" | "extra";
  readonly goal?: Goal;
}

/** Variants timed side by side, and the figures made of them. */
export interface Comparison {
  /** What is compared: the workload, e.g. "ResNet-50 (161 tensors, 25.6M floats)". */
  readonly title: string;
  readonly timer: Timer;
  readonly variants: readonly Variant[];
  readonly figures: readonly Figure[];
  /**
   * Repetitions: each gives every variant one time, in turns.
   *
   * @default {5}
   */
  readonly repetitions?: number;
  /** Lines printed after the figures, e.g. what a baseline is. */
  readonly notes?: readonly string[];
  /** Frees what the comparison made; called once it has been timed. */
  readonly destroy?: () => void;
}

/** What sections get to make their comparisons with. */
export interface BenchContext {
  /** The benchmark device: the adapter's own storage limits, so big layouts fit. */
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
}

/** A part of the run: comparisons made one at a time, so each can free its memory. */
export interface Section {
  /** Its name, also what `--only` selects it by. */
  readonly name: string;
  /** Run only when named by `--only` (e.g. a model that needs 5 GB). */
  readonly heavy?: boolean;
  comparisons(context: BenchContext): AsyncIterable<Comparison>;
}

/** A figure as measured. */
export interface FigureResult {
  readonly label: string;
  readonly candidate: string;
  readonly baseline: string | null;
  readonly terms: "baseline" | "limit" | "extra" | "time";
  /** `"x"`: a speed ratio; `"ms"`: a time per step. */
  readonly unit: "x" | "ms";
  /** What a time is of: a GPU step (marginal) or a host call. */
  readonly per: "step" | "call";
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** One value per repetition. */
  readonly values: readonly number[];
  readonly goal: Goal | null;
  /** Whether the median reached the goal; null without one. */
  readonly met: boolean | null;
}

/** A comparison as measured. */
export interface ComparisonResult {
  readonly section: string;
  readonly title: string;
  /** How it was timed: `"gpu, K steps then one wait"` and the like. */
  readonly timing: string;
  readonly repetitions: number;
  /** Each variant's K (GPU timers only) and ms per step, one value per repetition. */
  readonly variants: readonly {
    name: string;
    steps: number | null;
    ms: readonly number[];
  }[];
  readonly figures: readonly FigureResult[];
  readonly notes: readonly string[];
  readonly durationMs: number;
}

/** Everything a run measured and where, as the JSON file holds it. */
export interface BenchResults {
  readonly format: "weight-decay-bench/1";
  /** When the run started (ISO 8601). */
  readonly date: string;
  /** The run's real duration, from process start to the last figure. */
  readonly durationMs: number;
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly memoryGiB: number;
    readonly os: string;
  };
  readonly deno: { readonly deno: string; readonly v8: string };
  readonly adapter: {
    readonly description: string;
    readonly vendor: string;
    readonly architecture: string;
    readonly isFallbackAdapter: boolean;
  };
  /**
   * The system's load averages over 1, 5 and 15 minutes when the run started and when
   * it ended: above the number of cores, other processes competed for them.
   */
  readonly load: {
    readonly start: readonly number[];
    readonly end: readonly number[];
  };
  /**
   * What `onSubmittedWorkDone` costs with nothing queued, ms: the median of
   * {@linkcode WAITS} waits, the latency the K-step timing takes out.
   */
  readonly emptyWaitMs: number;
  readonly comparisons: readonly ComparisonResult[];
}

/** How many waits on an empty queue `emptyWaitMs` is the median of. */
export const WAITS = 9;

/** Options of {@linkcode runBenchmarks}. */
export interface RunOptions {
  /** Section names to run; default: every section that is not heavy. */
  readonly only?: readonly string[];
  /** Where to write the results as JSON, if anywhere. */
  readonly json?: string;
}

const DEFAULT_REPETITIONS = 5;
const DEFAULT_MIN_MS = 50;
/**
 * How many times a GPU timing is taken before its marginal cost is kept: K steps that
 * took no longer than one step are a noise spike (no step costs zero or less), so
 * such a timing is taken again.
 */
const GPU_TRIES = 3;

/**
 * Runs the sections one after another, prints each comparison as it finishes, then the
 * table of every figure and the run's total duration.
 *
 * @param sections Every section; `options.only` picks some.
 * @param options Which sections, and where to write the JSON.
 * @returns What was measured.
 * @throws {RangeError} If `only` names no section, or a comparison is malformed.
 * @throws {Error} If there is no WebGPU adapter, or a GPU step raised a WebGPU error.
 */
export async function runBenchmarks(
  sections: readonly Section[],
  options: RunOptions = {},
): Promise<BenchResults> {
  const date = new Date().toISOString();
  const loadAtStart = Deno.loadavg();
  const chosen = _choose(sections, options.only);
  const context = await benchContext();
  const emptyWaitMs = await _emptyWait(context.device);
  console.log(
    `WebGPU adapter: ${adapterInfo(context.adapter).description}; ` +
      `a wait on an empty queue takes ${formatValue(emptyWaitMs, "ms")}`,
  );
  const comparisons: ComparisonResult[] = [];
  for (const section of chosen) {
    console.log(`\n=== ${section.name} ===`);
    for await (const comparison of section.comparisons(context)) {
      const result = await _runComparison(section.name, comparison);
      comparisons.push(result);
      _printComparison(result);
    }
  }
  const results: BenchResults = {
    format: "weight-decay-bench/1",
    date,
    durationMs: performance.now(),
    machine: _machine(),
    deno: { deno: Deno.version.deno, v8: Deno.version.v8 },
    adapter: adapterInfo(context.adapter),
    load: { start: loadAtStart, end: Deno.loadavg() },
    emptyWaitMs,
    comparisons,
  };
  context.device.destroy();
  console.log(`\n${formatTable(results.comparisons)}`);
  console.log(`\nTotal: ${formatDuration(results.durationMs)} (real time)`);
  if (options.json !== undefined) {
    await Deno.writeTextFile(
      options.json,
      `${JSON.stringify(results, null, 2)}\n`,
    );
    console.log(`Results written to ${options.json}`);
  }
  return results;
}

function _choose(
  sections: readonly Section[],
  only: readonly string[] | undefined,
): readonly Section[] {
  if (only === undefined || only.length === 0) {
    return sections.filter((s) => !s.heavy);
  }
  const unknown = only.filter((name) => !sections.some((s) => s.name === name));
  if (unknown.length > 0) {
    throw new RangeError(
      `Expected section names among ${
        sections.map((s) => JSON.stringify(s.name)).join(", ")
      } but found ${unknown.map((n) => JSON.stringify(n)).join(", ")}`,
    );
  }
  return sections.filter((s) => only.includes(s.name));
}

/**
 * The adapter and a device of the benchmarks, with the adapter's own storage limits so
 * that big layouts fit.
 */
export async function benchContext(): Promise<BenchContext> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (adapter === null || adapter === undefined) {
    throw new Error("No WebGPU adapter: the benchmarks need one");
  }
  const device = await adapter.requestDevice({
    label: "bench device",
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  return { adapter, device };
}

// --- timing ------------------------------------------------------------------------

async function _emptyWait(device: GPUDevice): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < WAITS; i++) {
    const start = performance.now();
    await device.queue.onSubmittedWorkDone();
    ms.push(performance.now() - start);
  }
  return _median(ms);
}

/** Times one comparison: its repetitions, then its figures; frees it afterwards. */
async function _runComparison(
  section: string,
  comparison: Comparison,
): Promise<ComparisonResult> {
  const start = performance.now();
  const repetitions = comparison.repetitions ?? DEFAULT_REPETITIONS;
  _checkComparison(comparison, repetitions);
  const { timer, variants } = comparison;
  const retimed = { count: 0 };
  const time = _timerOf(timer, retimed);
  const device = timer.kind === "gpu" ? timer.device : undefined;
  device?.pushErrorScope("validation");
  device?.pushErrorScope("out-of-memory");
  const ms = new Map(variants.map((v) => [v.name, [] as number[]]));
  try {
    for (const variant of variants) await time(variant, true);
    for (let r = 0; r < repetitions; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const variant of order) {
        ms.get(variant.name)!.push(await time(variant, false));
      }
    }
  } finally {
    if (device !== undefined) await _checkErrors(device, comparison.title);
    comparison.destroy?.();
  }
  return {
    section,
    title: comparison.title,
    timing: _timingName(timer, variants),
    repetitions,
    variants: variants.map(({ name, steps }) => ({
      name,
      steps: timer.kind === "gpu" ? steps ?? timer.steps : null,
      ms: ms.get(name)!,
    })),
    figures: comparison.figures.map((figure) =>
      _figure(figure, ms, timer.kind === "gpu" ? "step" : "call")
    ),
    notes: [...comparison.notes ?? [], ..._retimedNote(retimed.count)],
    durationMs: performance.now() - start,
  };
}

function _checkComparison(comparison: Comparison, repetitions: number): void {
  const names = new Set(comparison.variants.map((v) => v.name));
  if (names.size !== comparison.variants.length) {
    throw new RangeError(
      `Expected unique variant names in "${comparison.title}"`,
    );
  }
  for (const { candidate, baseline } of comparison.figures) {
    for (const name of [candidate, baseline]) {
      if (name !== undefined && !names.has(name)) {
        throw new RangeError(
          `Expected a variant of "${comparison.title}" but found "${name}"`,
        );
      }
    }
  }
  if (!Number.isInteger(repetitions) || repetitions < 5) {
    throw new RangeError(
      `Expected at least 5 repetitions but found ${repetitions}`,
    );
  }
  const { timer } = comparison;
  if (timer.kind !== "gpu") return;
  for (const k of [timer.steps, ...comparison.variants.map((v) => v.steps)]) {
    if (k !== undefined && !(Number.isInteger(k) && k >= 2)) {
      throw new RangeError(
        `Expected K to be an integer of at least 2 but found ${k}`,
      );
    }
  }
}

/** A function that times one variant once: ms per step (a warm-up run returns 0). */
type TimeOnce = (variant: Variant, warmUp: boolean) => Promise<number>;

function _timerOf(timer: Timer, retimed: { count: number }): TimeOnce {
  return timer.kind === "gpu" ? _gpuTime(timer, retimed) : _hostTime(timer);
}

function _retimedNote(count: number): string[] {
  return count === 0 ? [] : [
    `${count} GPU ${
      count === 1 ? "timing was" : "timings were"
    } taken again: K steps took no longer than one step, a noise spike`,
  ];
}

/**
 * `(T(K) - T(1)) / (K - 1)`, where T(n) is n steps then one wait; taken again, up to
 * {@linkcode GPU_TRIES} times in all, while it is not positive.
 */
function _gpuTime(
  { device, steps, flush }: GpuTimer,
  retimed: { count: number },
): TimeOnce {
  const wait = async () => {
    flush?.();
    await device.queue.onSubmittedWorkDone();
  };
  const run = async (step: Variant["step"], count: number) => {
    await wait();
    const start = performance.now();
    for (let i = 0; i < count; i++) await step();
    await wait();
    return performance.now() - start;
  };
  return async ({ step, steps: k = steps }, warmUp) => {
    if (warmUp) {
      await run(step, 2);
      return 0;
    }
    let marginal = 0;
    for (let tries = 0; tries < GPU_TRIES; tries++) {
      if (tries > 0) retimed.count++;
      const one = await run(step, 1);
      marginal = (await run(step, k) - one) / (k - 1);
      if (marginal > 0) break;
    }
    return marginal;
  };
}

/** The mean time of one call, over calls repeated for at least `minMs`. */
function _hostTime({ minMs = DEFAULT_MIN_MS, settle }: HostTimer): TimeOnce {
  return async ({ step, before }, warmUp) => {
    let spent = 0;
    let calls = 0;
    do {
      before?.();
      const start = performance.now();
      await step();
      spent += performance.now() - start;
      calls++;
    } while (!warmUp && spent < minMs);
    await settle?.();
    return warmUp ? 0 : spent / calls;
  };
}

async function _checkErrors(device: GPUDevice, title: string): Promise<void> {
  const outOfMemory = await device.popErrorScope();
  const validation = await device.popErrorScope();
  const error = validation ?? outOfMemory;
  if (error !== null) {
    throw new Error(`WebGPU error in "${title}": ${error.message}`);
  }
}

function _timingName(timer: Timer, variants: readonly Variant[]): string {
  if (timer.kind === "host") {
    return `host: calls repeated for at least ${
      timer.minMs ?? DEFAULT_MIN_MS
    } ms`;
  }
  const ks = [...new Set(variants.map((v) => v.steps ?? timer.steps))];
  return `GPU: K = ${
    ks.join(" or ")
  } steps then one wait, less 1 step then one wait`;
}

// --- figures -----------------------------------------------------------------------

function _figure(
  figure: Figure,
  ms: Map<string, number[]>,
  per: "step" | "call",
): FigureResult {
  const candidate = ms.get(figure.candidate)!;
  const baseline = figure.baseline === undefined
    ? undefined
    : ms.get(figure.baseline)!;
  const terms = baseline === undefined ? "time" : figure.terms ?? "baseline";
  const values = candidate.map((c, r) =>
    terms === "time"
      ? c
      : terms === "extra"
      ? c - baseline![r]!
      : baseline![r]! / c
  );
  const median = _median(values);
  const goal = figure.goal ?? null;
  return {
    label: figure.label,
    candidate: figure.candidate,
    baseline: figure.baseline ?? null,
    terms,
    unit: terms === "time" || terms === "extra" ? "ms" : "x",
    per,
    median,
    min: Math.min(...values),
    max: Math.max(...values),
    values,
    goal,
    met: goal === null
      ? null
      : "atLeast" in goal
      ? median >= goal.atLeast
      : median < goal.belowMs,
  };
}

function _median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

// --- output ------------------------------------------------------------------------

/**
 * A number as the output prints it: ratios to two decimals, times to three
 * significant digits or whole milliseconds.
 *
 * @param value The number.
 * @param unit `"x"` for a ratio, `"ms"` for a time.
 * @returns The text, e.g. `"0.94x"` or `"12.3 ms"`.
 */
export function formatValue(value: number, unit: "x" | "ms"): string {
  if (unit === "x") return `${value.toFixed(2)}x`;
  const size = Math.abs(value);
  const digits = size >= 100 ? 0 : size >= 10 ? 1 : size >= 1 ? 2 : 3;
  return `${value.toFixed(digits)} ms`;
}

/**
 * A duration as minutes and seconds.
 *
 * @param ms The duration in milliseconds.
 * @returns The text, e.g. `"2 min 13 s"`.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60
    ? `${seconds} s`
    : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * What a figure is relative to, in words.
 *
 * @param figure The figure.
 * @returns E.g. `"x of the limit: one kernel over one buffer"`, or `"time per call"`.
 */
export function describeRelation(figure: FigureResult): string {
  switch (figure.terms) {
    case "limit":
      return `of the limit (${figure.baseline})`;
    case "baseline":
      return `the speed of ${figure.baseline}`;
    case "extra":
      return `more per ${figure.per} than ${figure.baseline}`;
    case "time":
      return `time per ${figure.per}`;
  }
}

/**
 * A goal in words, with whether it was met.
 *
 * @param figure The figure.
 * @returns E.g. `">= 0.85x: met"`, or `""` without a goal.
 */
export function describeGoal(figure: FigureResult): string {
  const { goal, met } = figure;
  if (goal === null) return "";
  const target = "atLeast" in goal
    ? `>= ${goal.atLeast.toFixed(2)}x`
    : `< ${formatValue(goal.belowMs, "ms")}`;
  return `${target}: ${met ? "met" : "MISSED"}`;
}

function _printComparison(result: ComparisonResult): void {
  console.log(`\n${result.title}`);
  console.log(`  (${result.timing}; ${result.repetitions} repetitions)`);
  for (const { name, ms } of result.variants) {
    console.log(
      `  ${name.padEnd(56)} ${formatValue(_median(ms), "ms").padStart(10)}`,
    );
  }
  for (const figure of result.figures) {
    const range = `${formatValue(figure.min, figure.unit)} to ${
      formatValue(figure.max, figure.unit)
    }`;
    const goal = describeGoal(figure);
    console.log(
      `  => ${figure.label}: ${formatValue(figure.median, figure.unit)} ${
        describeRelation(figure)
      } (${range})${goal === "" ? "" : `; goal ${goal}`}`,
    );
  }
  for (const note of result.notes) console.log(`  note: ${note}`);
  console.log(`  (${formatDuration(result.durationMs)})`);
}

/**
 * A figure's cells in a table of figures: label, median, min, max, what it is relative
 * to, and its goal.
 */
export function figureCells(f: FigureResult): string[] {
  return [
    f.label,
    formatValue(f.median, f.unit),
    formatValue(f.min, f.unit),
    formatValue(f.max, f.unit),
    describeRelation(f),
    describeGoal(f),
  ];
}

/**
 * Every figure in one Markdown table: section, workload, figure, median, min, max,
 * what it is relative to, and its goal.
 *
 * @param comparisons The comparisons measured.
 * @returns The table's lines, joined.
 */
export function formatTable(comparisons: readonly ComparisonResult[]): string {
  const rows = comparisons.flatMap((c) =>
    c.figures.map((f) => [c.section, c.title, ...figureCells(f)])
  );
  const header = [
    "Section",
    "Workload",
    "Figure",
    "Median",
    "Min",
    "Max",
    "Relative to",
    "Goal",
  ];
  return markdownTable(header, rows).join("\n");
}

/**
 * A Markdown table with padded columns, one line per row.
 *
 * @param header The column names.
 * @param rows The cells, one array per row, as many as the header has.
 * @returns The table's lines.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = header.map((h, i) =>
    Math.max(3, h.length, ...rows.map((row) => row[i]!.length))
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
}

// --- where it ran ------------------------------------------------------------------

/** The machine: its CPU model (from /proc/cpuinfo on Linux, which needs --allow-all). */
function _machine(): BenchResults["machine"] {
  let cpuinfo = "";
  try {
    cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    // Not Linux, or not allowed: the model stays unknown.
  }
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
}

/** What the results say of an adapter. */
export function adapterInfo(adapter: GPUAdapter): BenchResults["adapter"] {
  const { description, vendor, architecture } = adapter.info;
  return {
    description: description ||
      [vendor, architecture].filter(Boolean).join(" ") || "unknown adapter",
    vendor,
    architecture,
    isFallbackAdapter: adapter.info.isFallbackAdapter,
  };
}
