/**
 * Import-free wire shapes of `GET /admin/cluster` (team mode), shared by the admin API and the
 * dashboard's Nodes view.
 */

/** One node's own figures (requests received here; accounts it runs). */
export interface NodeFigures {
  /** Requests received by this node now in flight (forwarded ones counted where they arrived). */
  inFlight: number;
  /** Requests received by this node waiting in a queue. */
  queued: number;
  /** The accounts this node runs, with the calls on each now (forwarded ones included). */
  accounts: Array<{ name: string; inFlight: number }>;
  /** Since this node started: requests finished, of which failed, and tokens counted. */
  requests: number;
  errors: number;
  tokens: number;
}

export interface NodeView extends Partial<NodeFigures> {
  name: string;
  /** Where the other nodes reach it. */
  url?: string;
  /** When it last reported (ms since epoch); absent when it has not yet. */
  lastSeen?: number;
  /** Is this the node answering? */
  self: boolean;
}

export interface ClusterView {
  node: string;
  nodes: NodeView[];
  totals: { nodes: number; inFlight: number; queued: number; requests: number; errors: number; tokens: number };
}
