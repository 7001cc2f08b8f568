// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Reproduces the crash of `deno test` runs that use WebGPU on a machine without a GPU:
 * after the summary, the process dies with SIGABRT ("corrupted size vs. prev_size in
 * fastbins", "free(): invalid pointer", "malloc_consolidate(): unaligned fastbin chunk
 * detected") or SIGSEGV. Run from the repository root:
 *
 *   ./tools/deno run --allow-run --allow-read --allow-env tools/crash_repro.ts [runs] [--plain]
 *
 * It runs this file `runs` times (default 40) as a test module, `deno test
 * tools/crash_repro.ts`, and as many times as a script, `deno run tools/crash_repro.ts`,
 * and prints how often each died by a signal. Both only request an adapter: no device,
 * buffer or pending promise is needed. glibc's malloc checks (`MALLOC_CHECK_=3`, with
 * libc_malloc_debug.so preloaded) make the crash more frequent; `--plain` turns them
 * off. On Deno 2.9.6, Debian 12's Mesa 22.3 llvmpipe and libglvnd 1.6, on 2 shared
 * cores, `deno test` died in 8 of 60 runs with the checks (SIGABRT) and in 3 of 150
 * without (2 SIGSEGV, 1 SIGABRT); `deno run` died in none of 60 and none of 150. The whole
 * suite, `./tools/deno task test` before tools/run_tests.ts, died in 1 of 20 runs.
 *
 * The cause is a race between two threads during `exit()`, in libglvnd, triggered by
 * the way Deno exits:
 *
 * - Without Vulkan, wgpu's GL backend uses EGL through libglvnd's libEGL.so.1, which
 *   keeps a state for each thread that calls EGL (a thread-specific value whose
 *   destructor unlinks and frees it when the thread exits).
 * - `deno test` runs each test module on a thread of tokio's blocking pool, so that
 *   thread is the one calling EGL. At the end Deno calls `shutdown_background()`,
 *   which wakes the idle pool threads so that they exit, and then `exit()` without
 *   waiting for them.
 * - `exit()` runs libEGL's destructor (`__eglFini`), which frees the state of every
 *   thread in its list. A thread that is exiting at that moment frees its own state
 *   again: a double free and a list unlink through freed memory, which corrupt the heap.
 *
 * A core dump shows it: the aborting thread is the tokio worker that made the EGL calls,
 * in libEGL's thread-exit destructor, while the main thread is in `_dl_fini`:
 *
 *   Thread 1 "tokio-runtime-w": free_check <- __nptl_deallocate_tsd <- start_thread
 *     (the destructor it called is libEGL.so.1's: unlink from the thread list, then free)
 *   Thread 6 "deno": _dl_call_fini <- _dl_fini <- __run_exit_handlers <- exit
 *
 * `deno run` runs JavaScript on the main thread, which is the thread running `exit()`,
 * so no thread with EGL state is exiting then, and it never crashes. Without Deno, a C
 * program whose threads call `eglBindAPI` and which then wakes them and calls `exit()`
 * without joining them dies the same way (67 of 300 runs with the checks, 3 of 300
 * without; 0 of 300 when it joins them first). So the bug is in libglvnd (its
 * exit-time teardown frees the state of threads that are still alive), exposed by Deno
 * (it exits while its threads are still ending). wgpu and Mesa only call EGL as they
 * may, and destroying devices or buffers changes nothing: the GPU tests destroy every
 * device and crash as often. `tools/run_tests.ts` works around it for the test suite.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROLE = "WEIGHT_DECAY_CRASH_REPRO";
const MALLOC_DEBUG = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0";

if (Deno.env.get(ROLE) === "child") {
  const adapter = await navigator.gpu.requestAdapter();
  Deno.test("an adapter is found, which is all a crash at exit needs", () => {
    assert.ok(adapter !== null, "no WebGPU adapter");
  });
} else {
  await drive();
}

/** Runs this file as a test module and as a script, and prints how often each died. */
async function drive(): Promise<void> {
  const plain = Deno.args.includes("--plain");
  const runs = Number(Deno.args.find((arg) => arg !== "--plain") ?? 40);
  const env: Record<string, string> = { [ROLE]: "child" };
  if (!plain) {
    env.MALLOC_CHECK_ = "3";
    if (await exists(MALLOC_DEBUG)) env.LD_PRELOAD = MALLOC_DEBUG;
  }
  const malloc = Object.entries(env).filter(([name]) => name !== ROLE)
    .map(([name, value]) => `${name}=${value}`).join(" ");
  const file = new URL(import.meta.url).pathname;
  for (const subcommand of ["test", "run"]) {
    const signals: Record<string, number> = {};
    for (let i = 0; i < runs; i++) {
      const { signal, code } = await new Deno.Command(Deno.execPath(), {
        args: [subcommand, "--allow-env", file],
        env,
        stdout: "null",
        stderr: "null",
      }).output();
      if (signal !== null) signals[signal] = (signals[signal] ?? 0) + 1;
      else if (code !== 0) throw new Error(`deno ${subcommand}: exit ${code}`);
    }
    const died = Object.values(signals).reduce((a, b) => a + b, 0);
    // deno-lint-ignore no-console -- the counts are this tool's output
    console.log(
      `deno ${subcommand}: died in ${died} of ${runs} runs`,
      signals,
      plain ? "(plain malloc)" : `(${malloc})`,
    );
  }
}

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
