/** The Lingma backend kind: a supervised pool of Lingma processes behind one provider. */
import { LingmaProvider, type LingmaProviderDeps } from './provider';

export function createLingmaProvider(deps: LingmaProviderDeps): LingmaProvider {
  return new LingmaProvider(deps);
}

export { LingmaProvider, type LingmaProviderDeps, type LingmaProviderStats } from './provider';
export { LingmaInstance } from './instance';
export type { LingmaAccount, LingmaConfig } from './types';
export type { BackoffOptions } from './supervisor';
export { finishError } from './signals';
export { flattenModels } from './models';
export { LingmaAccounts, attachedRefusal, type LingmaAccountsApi } from './accounts-api';
export { AccountStore, passwordKey, type AccountInput, type AccountPatch, type PublicAccount } from './accounts';
export { SessionCache, conversationHash, type SessionCacheStats } from './session-cache';
export { findLingmaBinary, type BinaryLookup } from './binary';
export { RpcConnection, RpcError } from './rpc';
export { FrameReader, FramingError, encodeFrame } from './framing';
