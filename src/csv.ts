/** One CSV cell, quoted when needed; spreadsheet formulas are defused: attacker text must not run in the investigator's Excel. */
export function csvCell(v: string): string {
  const safe = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvRow(cells: string[]): string {
  return cells.map(csvCell).join(',');
}
