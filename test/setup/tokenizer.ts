/**
 * Every test file sees the token estimate the relay uses in production: the tokenizer, loaded
 * once per worker. Without this, a file's estimates would depend on whether an earlier file in
 * the same worker started a relay (which switches the tokenizer on): test files share their
 * modules (`isolate: false`, vite.config.ts), so figures must not depend on file order.
 */
import { loadTokenizer, useTokenizer } from '../../src-main/core/chat/tokens';

useTokenizer();
await loadTokenizer();
