/** A plain-text table: columns padded to their widest cell, cells cut to `maxWidth` with an ellipsis. */
export function formatTable(
  headers: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options: {
    maxWidths?: ReadonlyArray<number | undefined>;
    alignRight?: ReadonlyArray<boolean>;
  } = {},
): string {
  const cut = (text: string, column: number) => {
    const flat = text.replace(/\s+/g, ' ').trim();
    const max = options.maxWidths?.[column];
    return max !== undefined && flat.length > max
      ? `${flat.slice(0, Math.max(1, max - 1))}…`
      : flat;
  };
  const cells = [
    headers.map((header, column) => cut(header, column)),
    ...rows.map((row) => row.map((cell, column) => cut(cell, column))),
  ];
  const widths = headers.map((_, column) =>
    Math.max(...cells.map((row) => row[column]?.length ?? 0)),
  );
  const line = (row: readonly string[]) =>
    row
      .map((cell, column) =>
        options.alignRight?.[column]
          ? cell.padStart(widths[column] ?? 0)
          : cell.padEnd(widths[column] ?? 0),
      )
      .join('  ')
      .trimEnd();
  return [
    line(cells[0] ?? []),
    widths.map((width) => '-'.repeat(width)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
