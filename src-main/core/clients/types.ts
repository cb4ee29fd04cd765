/**
 * One client the dashboard / `configure` can set up by writing its own settings file.
 * A client only says WHERE its file is (fixed names under the home folder) and HOW to turn the
 * current text into the new text with a real parser (`render`); planning, backups, writing and
 * restoring are shared (`plan.ts`).
 */

/** What a client is pointed at: the relay as it runs. */
export interface ClientTarget {
  /** OpenAI-style base, e.g. `http://127.0.0.1:8420/v1`. */
  endpoint: string;
  /** The same without `/v1` (Anthropic clients append `/v1/messages` themselves). */
  root: string;
  apiKey: string;
  /** The relay model name (an alias) the client asks for. */
  model: string;
}

export interface ClientWriter {
  id: string;
  title: string;
  /** Fixed path segments under the home folder (never from outside). */
  file: readonly string[];
  /** File format, for the diff's label and the dashboard. */
  format: 'json' | 'toml' | 'yaml';
  /** The new file text from the current one (`undefined`: no file yet). Throws a 400 RelayError naming the problem. */
  render(current: string | undefined, target: ClientTarget): string;
  /** What the person still has to do, if anything (e.g. an environment variable), shown after writing. */
  note?(target: ClientTarget): string | undefined;
}
