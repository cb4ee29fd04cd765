/** Abort plumbing shared across layers. */
import { errors } from './errors';

/** Resolves with `p`, or rejects with a cancel error when the signal aborts first. */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(errors.cancelled());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(errors.cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
