/**
 * EventBridge pattern matching for the subset the deployment uses: exact string values in arrays
 * (one must equal the field, or an element of it when the field is an array) and nested objects.
 * Anything else (prefix, numeric, exists…) throws, so a richer pattern cannot pass unnoticed.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!pattern || typeof pattern !== 'object' || Array.isArray(pattern)) throw new Error(`unsupported pattern ${JSON.stringify(pattern)}`);
  return Object.entries(pattern).every(([key, cond]) => {
    const value = event && typeof event === 'object' ? (event as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(cond)) {
      if (!cond.every((c) => typeof c === 'string')) throw new Error(`unsupported match ${JSON.stringify(cond)}`);
      return (Array.isArray(value) ? value : [value]).some((v) => cond.includes(v));
    }
    return matchesPattern(cond, value);
  });
}
