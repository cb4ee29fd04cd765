/**
 * Plan / apply / restore for every client (one path for all of them):
 * - `planClient`: the file's current text → the client's `render` → a unified diff. Nothing written.
 * - `applyClient`: the same plan, then the ORIGINAL bytes go to `<dataDir>/client-backups/<id>.orig`
 *   (0600, folder 0700) with `<id>.json` (was there a file, what we wrote), then the new text is
 *   written atomically (temp file + rename, the file's mode kept, 0600 for a new file). Applying
 *   again over our own write keeps the first backup, so "restore" always returns to what the
 *   person had before the relay touched the file.
 * - `restoreClient`: the original bytes back (or the file removed when there was none), backup gone.
 * Paths: the home folder plus the client's fixed names; backups only through `safeJoin`.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { errors } from '../errors';
import { writeFileAtomicSync } from '../fs-atomic';
import { safeJoin } from '../safe-path';
import { unifiedDiff } from './diff';
import type { ClientTarget, ClientWriter } from './types';

export const BACKUP_DIR = 'client-backups';

export interface ClientPlan {
  id: string;
  title: string;
  path: string;
  format: ClientWriter['format'];
  exists: boolean;
  /** Would writing change the file? */
  changed: boolean;
  /** Unified diff, secret values shortened; '' when nothing changes. */
  diff: string;
  note?: string;
}

export interface ClientStatus {
  id: string;
  title: string;
  path: string;
  format: ClientWriter['format'];
  exists: boolean;
  /** The file already says what the relay would write. */
  configured: boolean;
  /** A backup can be restored (`restoreClient`). */
  hasBackup: boolean;
  backupAt?: number;
  /** Why it cannot be planned (e.g. the file does not parse), if so. */
  problem?: string;
}

interface BackupMeta {
  id: string;
  path: string;
  existed: boolean;
  /** sha256 of the text we wrote, to tell our own write from a later edit. */
  written: string;
  at: number;
}

export interface ClientContext {
  /** The home folder the client files live under (absolute). */
  home: string;
  /** The relay's data folder (backups). Needed for apply and restore. */
  dataDir?: string;
  target: ClientTarget;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function clientPath(writer: ClientWriter, home: string): string {
  if (!home || !isAbsolute(home)) throw errors.invalid(`The home folder must be an absolute path (got ${JSON.stringify(home)}).`, 'home');
  return join(home, ...writer.file);
}

function readCurrent(path: string): Buffer | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (st.isSymbolicLink()) {
    throw errors.invalid(`${path} is a symbolic link; Lingma Relay does not write through links. Copy the snippet into the file it points to instead.`, 'path', 'client_file_is_link');
  }
  if (!st.isFile()) throw errors.invalid(`${path} exists and is not a file.`, 'path', 'client_file_not_file');
  return readFileSync(path);
}

function displayPath(path: string, home: string): string {
  return path.startsWith(home) ? `~${path.slice(home.length)}` : path;
}

function backupFiles(dataDir: string | undefined, id: string): { meta: string; orig: string } {
  if (!dataDir) throw errors.invalid('Backups need the relay data folder, which is not known here.', undefined, 'client_no_data_dir');
  return { meta: safeJoin(dataDir, BACKUP_DIR, `${id}.json`), orig: safeJoin(dataDir, BACKUP_DIR, `${id}.orig`) };
}

function readMeta(dataDir: string | undefined, id: string): BackupMeta | undefined {
  if (!dataDir) return undefined;
  const { meta } = backupFiles(dataDir, id);
  if (!existsSync(meta)) return undefined;
  try {
    return JSON.parse(readFileSync(meta, 'utf8')) as BackupMeta;
  } catch {
    throw errors.invalid(`The backup record ${meta} is unreadable; remove it to start over.`, undefined, 'client_backup_broken');
  }
}


function render(writer: ClientWriter, current: Buffer | undefined, target: ClientTarget): string {
  return writer.render(current?.toString('utf8'), target);
}

export function planClient(writer: ClientWriter, ctx: ClientContext): ClientPlan {
  const path = clientPath(writer, ctx.home);
  const current = readCurrent(path);
  const after = render(writer, current, ctx.target);
  const before = current?.toString('utf8') ?? '';
  return {
    id: writer.id,
    title: writer.title,
    path,
    format: writer.format,
    exists: current !== undefined,
    changed: current === undefined || before !== after,
    diff: unifiedDiff(before, after, displayPath(path, ctx.home)),
    note: writer.note?.(ctx.target),
  };
}

export function clientStatus(writer: ClientWriter, ctx: ClientContext): ClientStatus {
  const path = clientPath(writer, ctx.home);
  const base = { id: writer.id, title: writer.title, path, format: writer.format };
  let meta: BackupMeta | undefined;
  try {
    meta = readMeta(ctx.dataDir, writer.id);
  } catch {
    meta = undefined;
  }
  const backup = { hasBackup: !!meta, backupAt: meta?.at };
  try {
    const current = readCurrent(path);
    const configured = current !== undefined && render(writer, current, ctx.target) === current.toString('utf8');
    return { ...base, ...backup, exists: current !== undefined, configured };
  } catch (e) {
    return { ...base, ...backup, exists: existsSync(path), configured: false, problem: e instanceof Error ? e.message : String(e) };
  }
}

export interface ApplyResult extends ClientPlan {
  written: boolean;
  backup?: string;
}

export function applyClient(writer: ClientWriter, ctx: ClientContext): ApplyResult {
  const files = backupFiles(ctx.dataDir, writer.id);
  const path = clientPath(writer, ctx.home);
  const current = readCurrent(path);
  const plan = planClient(writer, ctx);
  if (!plan.changed) return { ...plan, written: false, backup: readMeta(ctx.dataDir, writer.id) ? files.orig : undefined };
  const after = render(writer, current, ctx.target);

  // Keep the first backup while the file still holds our own last write.
  const old = readMeta(ctx.dataDir, writer.id);
  const ours = old !== undefined && current !== undefined && sha256(current) === old.written;
  mkdirSync(dirname(files.meta), { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') chmodSync(dirname(files.meta), 0o700);
  const meta: BackupMeta = ours && old
    ? { ...old, written: sha256(after) }
    : { id: writer.id, path, existed: current !== undefined, written: sha256(after), at: Date.now() };
  if (!ours) {
    if (current !== undefined) writeFileAtomicSync(files.orig, current, { mode: 0o600 });
    else if (existsSync(files.orig)) unlinkSync(files.orig);
  }
  writeFileAtomicSync(files.meta, `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });

  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const mode = current !== undefined ? statSync(path).mode & 0o777 : 0o600;
  writeFileAtomicSync(path, after, { mode });
  return { ...plan, written: true, backup: meta.existed ? files.orig : files.meta };
}

export interface RestoreResult {
  id: string;
  path: string;
  /** What was done: the original put back, or the file the relay created removed. */
  action: 'restored' | 'removed';
  diff: string;
}

export function restoreClient(writer: ClientWriter, ctx: Omit<ClientContext, 'target'>): RestoreResult {
  const files = backupFiles(ctx.dataDir, writer.id);
  const meta = readMeta(ctx.dataDir, writer.id);
  if (!meta) throw errors.notFound(`There is no backup of the ${writer.title} settings to restore.`, 'client_no_backup');
  const path = clientPath(writer, ctx.home);
  const current = readCurrent(path);
  let action: RestoreResult['action'];
  let diff: string;
  if (meta.existed) {
    const original = readFileSync(files.orig);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const mode = current !== undefined ? statSync(path).mode & 0o777 : 0o600;
    writeFileAtomicSync(path, original, { mode });
    diff = unifiedDiff(current?.toString('utf8') ?? '', original.toString('utf8'), displayPath(path, ctx.home));
    action = 'restored';
  } else {
    if (current !== undefined) unlinkSync(path);
    diff = unifiedDiff(current?.toString('utf8') ?? '', '', displayPath(path, ctx.home));
    action = 'removed';
  }
  if (existsSync(files.orig)) unlinkSync(files.orig);
  unlinkSync(files.meta);
  return { id: writer.id, path, action, diff };
}
