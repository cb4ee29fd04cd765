/** Types of bin/serve-flags.mjs (plain JavaScript, imported by the TypeScript bench and tests). */
export declare const GATEWAY_NODE_FLAGS: readonly string[];
export declare const LAUNCHER_PID_ENV: 'RELAY_LAUNCHER_PID';
export declare function gatewayNodeFlags(nodeOptions: string | undefined): string[];
