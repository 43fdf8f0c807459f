// A child of the launcher (`npm start`) holds the read end of a pipe from it as stdin. The
// launcher never writes to it and never closes it, so end-of-file means the launcher is gone,
// even when it was SIGKILLed (no handler of its own runs then): the child must stop by itself.
// Only a child started with LIFELINE_ARG watches its stdin; run by hand, stdin means nothing.
export const LIFELINE_ARG = '--lifeline';

// Calls `gone` once when the launcher's end of the pipe closes; false when not started with
// LIFELINE_ARG.
export function onLauncherGone(gone: () => void, argv: readonly string[] = process.argv): boolean {
  if (!argv.includes(LIFELINE_ARG)) return false;
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    gone();
  };
  process.stdin.on('end', once);
  process.stdin.on('close', once);
  process.stdin.on('error', once);
  process.stdin.on('data', () => {}); // nothing is ever written; reading is what notices the end
  // stdout is the launcher's pipe too: once it is gone, a log line must not kill the drain.
  process.stdout.on('error', () => {});
  return true;
}

// argv without LIFELINE_ARG, for programs that parse their own options.
export function withoutLifeline(argv: readonly string[]): string[] {
  return argv.filter((a) => a !== LIFELINE_ARG);
}
