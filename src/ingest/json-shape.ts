/**
 * A look at raw JSON before it is parsed: how deep it nests and how many objects and arrays it
 * holds. JSON.parse of a body of a million empty objects blocks the event loop for a fraction of
 * a second, and deep nesting costs every recursive walk after it; this scan is one pass over
 * the bytes that stops as soon as a limit is passed.
 */
export function jsonShapeProblem(body: Buffer, limits: { maxDepth: number; maxNodes: number }): string | undefined {
  let depth = 0;
  let nodes = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limits.maxDepth) return `JSON nested deeper than ${limits.maxDepth} levels`;
      if (++nodes > limits.maxNodes) return `more than ${limits.maxNodes} JSON objects and arrays in one request`;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}
