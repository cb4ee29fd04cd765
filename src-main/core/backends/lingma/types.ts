/**
 * The shapes every part of the Lingma backend shares: its live settings and one account. Here so
 * that no part imports the `Instance` facade (instance.ts) for a type.
 */
import type { Config } from '../../config/schema';

export type LingmaConfig = Config['lingma'];

export interface LingmaAccount {
  /** Instance name (`lingma.accounts[].name`, or derived from the user name). */
  name: string;
  username: string;
  dedicatedDomain?: string;
  maxConcurrency?: number;
  disabled?: boolean;
  source: 'config' | 'runtime' | 'default';
}
