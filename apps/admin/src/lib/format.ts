const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Scores keep four decimals: enough to tell neighbours apart, few enough to read. */
export function formatScore(value: number | null | undefined, digits = 4): string {
  return value === null || value === undefined ? '–' : value.toFixed(digits);
}

/** "3 minutes ago"; "never" for null. */
export function formatAge(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  const steps: Array<[number, Intl.RelativeTimeFormatUnit]> = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [30, 'day'],
    [12, 'month'],
  ];
  let value = seconds;
  for (const [size, unit] of steps) {
    if (Math.abs(value) < size)
      return new Intl.RelativeTimeFormat('en', { numeric: 'auto' }).format(-value, unit);
    value = Math.round(value / size);
  }
  return new Intl.RelativeTimeFormat('en').format(-value, 'year');
}

/** The first part of a uuid: enough to recognise a document in a list. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}
