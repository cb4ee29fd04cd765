#!/usr/bin/env node
/**
 * `npm run serve -- [flags]` (package.json: `node bin/serve.mjs`, no shell builtins, so the same
 * under sh, cmd.exe and PowerShell): builds the headless gateway when its sources changed
 * (bin/serve-build.mjs), then runs the compiled dist/cli/serve.mjs in a child process,
 * `process.execPath <GATEWAY_NODE_FLAGS> dist/cli/serve.mjs <your flags>` with stdio inherited.
 * A child because the gateway's V8 flags (bin/serve-flags.mjs) only take effect on a command
 * line. No TypeScript loader at run time. `--build-only` builds (if needed) and exits.
 *
 * The launcher stays until the gateway exits and then exits the same way: the gateway's exit
 * code, or the signal that ended it, raised again on itself.
 * - POSIX: SIGINT, SIGTERM and SIGHUP sent to the launcher (by npm, a service manager, `kill`) are
 *   passed on to the gateway, which does what it does with them itself (stop gracefully, reload the
 *   aliases). Ctrl-C in a terminal reaches both, the gateway twice then: it takes repeats within a
 *   second as one.
 * - Windows has no POSIX signals: Ctrl-C / Ctrl-Break reach every process on the console, the
 *   gateway included, so the launcher passes nothing on (`child.kill()` there would terminate the
 *   gateway at once, without its graceful stop) and only waits for it.
 * - The gateway gets this process's pid (RELAY_LAUNCHER_PID) and stops gracefully as soon as the
 *   launcher is gone (killed with SIGKILL, or by Task Manager): it is never left running alone.
 * - Started by npm (or with RELAY_EXIT_WITH_PARENT=1; `0` turns it off), the launcher watches its
 *   own parent the same way (and npm behind the `sh -c` it runs scripts with) and exits when it is
 *   gone (npm killed, or npm's shell killed by the SIGTERM npm passes on), which stops the gateway.
 * relay.pid names the gateway, not the launcher: signals sent there go straight to the gateway,
 * and the launcher then exits with it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { basename } from 'node:path';
import { ensureServeBuild } from './serve-build.mjs';
import { gatewayNodeFlags, LAUNCHER_PID_ENV } from './serve-flags.mjs';

const args = process.argv.slice(2);
let bundle;
try {
  bundle = await ensureServeBuild();
} catch (e) {
  process.stderr.write(`Cannot build the gateway: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
if (args[0] === '--build-only') process.exit(0);

// NODE_OPTIONS reaches the gateway through its environment. An inspector it asks for is meant for
// the gateway: this process lets go of the port before the gateway wants it.
if (/--inspect/.test(process.env.NODE_OPTIONS ?? '')) {
  const inspector = await import('node:inspector').catch(() => undefined);
  if (inspector?.url()) inspector.close();
}

const child = spawn(process.execPath, [...gatewayNodeFlags(process.env.NODE_OPTIONS), bundle, ...args], {
  stdio: 'inherit',
  env: { ...process.env, [LAUNCHER_PID_ENV]: String(process.pid) },
});

const running = () => child.exitCode === null && child.signalCode === null;
const handled = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP'];
const onSignal = (signal) => {
  if (process.platform !== 'win32' && running()) child.kill(signal);
  // Windows: the console delivered it to the gateway too; wait for the gateway to exit.
};
for (const s of handled) process.on(s, onSignal);

child.on('error', (e) => {
  process.stderr.write(`Cannot start the gateway: ${e.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // The same end as the gateway's: default action for the signal, with our handlers gone.
    for (const s of handled) process.off(s, onSignal);
    process.kill(process.pid, signal);
    // A signal whose default is not to terminate (or ignored here): the shell's convention.
    setTimeout(() => process.exit(128 + (constants.signals[signal] ?? 0)), 100);
    return;
  }
  process.exit(code ?? 1);
});

/** Like src-main/cli/serve.ts: npm's script (`npm_lifecycle_event`) or RELAY_EXIT_WITH_PARENT=1; `0` off. */
function exitWithParent(env) {
  const v = env.RELAY_EXIT_WITH_PARENT?.trim().toLowerCase();
  if (v === '0' || v === 'false' || v === 'no') return false;
  if (v === '1' || v === 'true' || v === 'yes') return true;
  return !!env.npm_lifecycle_event;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

/**
 * The parent's own parent when the parent is a shell: npm runs scripts through `sh -c` (cmd.exe
 * on Windows), and a shell that does not `exec` its last command (dash, Debian's and Ubuntu's sh)
 * stays in between. npm passes its signals to that shell only, which dies of SIGTERM without
 * passing it on, and a killed npm leaves the shell waiting: the launcher watches npm too.
 */
function shellParentsParent(ppid) {
  const shells = /^-?(sh|dash|bash|ash|zsh|ksh|mksh|busybox)$/;
  try {
    if (process.platform === 'linux') {
      const stat = readFileSync(`/proc/${ppid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      return shells.test(comm) ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : undefined;
    }
    if (process.platform === 'win32') return undefined; // cmd.exe outlives npm there; as before
    const [pp, comm] = execFileSync('ps', ['-o', 'ppid=,comm=', '-p', String(ppid)], { encoding: 'utf8', timeout: 2000 }).trim().split(/\s+/);
    return shells.test(basename(comm ?? '')) ? Number(pp) : undefined;
  } catch {
    return undefined;
  }
}

if (exitWithParent(process.env)) {
  // npm killed (SIGKILL, or SIGHUP, which it does not pass on), or the shell between us gone: this
  // process goes, and the gateway, watching it, stops gracefully. Five looks a second.
  const parent = process.ppid;
  const npm = shellParentsParent(parent);
  const timer = setInterval(() => {
    if (process.ppid === parent && alive(parent) && (npm === undefined || npm <= 1 || alive(npm))) return;
    clearInterval(timer);
    process.exit(1);
  }, 200);
  timer.unref();
}
