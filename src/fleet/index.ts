// Edges and their controller: the protocol both speak (protocol.ts) and the edge's side of it (link.ts).

export { readLines } from './lines.ts';
export { type EdgeCredential, EdgeLink, type EdgeLinkOptions, type EdgeLinkStatus } from './link.ts';
export * from './protocol.ts';
