// Copyright 2026 the weight-decay authors. MIT license.
/**
 * Runs `deno test` with the given arguments, as `deno task test` does after the type
 * check, lint and format check:
 *
 *   ./tools/deno run --allow-read --allow-write --allow-run tools/run_tests.ts [deno test arguments]
 *
 * A `deno test` process that used WebGPU without a GPU can die by a signal at exit,
 * after it has reported every result: libglvnd's libEGL frees, in its exit-time
 * destructor, the state of Deno's test threads while they are exiting and freeing it
 * too (tools/crash_repro.ts reproduces it and explains why). That death says nothing
 * about the tests, so when `deno test` dies by a signal after its report says every
 * test passed, the suite runs again, up to 3 times in all, each time saying so.
 * Anything else is final: failed tests, a normal non-zero exit, a death before the
 * report is written, or a death at exit in every run.
 *
 * @module
 */

/** Runs of the suite, at most, while each passes and then dies at exit. */
const ATTEMPTS = 3;

for (let attempt = 1;; attempt++) {
  const { status, passed } = await runOnce(Deno.args);
  if (status.signal === null) Deno.exit(status.code);
  if (!passed || attempt === ATTEMPTS) {
    // deno-lint-ignore no-console -- the reason for the exit status belongs in the log
    console.error(
      `\ndeno test died by ${status.signal} ${
        passed
          ? `after every test passed, in each of ${ATTEMPTS} runs`
          : "before reporting that every test passed"
      }`,
    );
    Deno.exit(status.code === 0 ? 1 : status.code);
  }
  // deno-lint-ignore no-console -- a rerun must be visible in the log
  console.error(
    `\ndeno test died by ${status.signal} at exit, after every test passed: the ` +
      `libglvnd teardown race of tools/crash_repro.ts, not a test failure. Running ` +
      `the tests again (run ${attempt + 1} of at most ${ATTEMPTS}).`,
  );
}

/**
 * Runs `deno test ...args` once with its output as it is, and returns its exit status
 * and whether its JUnit report, written before the process exits, says every test
 * passed.
 */
async function runOnce(
  args: string[],
): Promise<{ status: Deno.CommandStatus; passed: boolean }> {
  const report = await Deno.makeTempFile({ suffix: ".xml" });
  try {
    const status = await new Deno.Command(Deno.execPath(), {
      args: ["test", `--junit-path=${report}`, ...args],
    }).spawn().status;
    return { status, passed: allPassed(await Deno.readTextFile(report)) };
  } finally {
    await Deno.remove(report);
  }
}

/** Whether a JUnit report lists tests and no failure or error. */
function allPassed(junit: string): boolean {
  const suites = /<testsuites [^>]*>/.exec(junit)?.[0] ?? "";
  const count = (name: string) =>
    Number(new RegExp(` ${name}="(\\d+)"`).exec(suites)?.[1] ?? NaN);
  return count("tests") > 0 && count("failures") === 0 && count("errors") === 0;
}
