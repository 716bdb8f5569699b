import type { RecallPoint } from './recall-bench';

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 240;
const MARGIN = { top: 40, right: 16, bottom: 46, left: 52 };
const COLOURS = { quarry: '#1f6feb', guide: '#d9480f' } as const;
const LABELS = { quarry: "Quarry's search", guide: "The guide's query (HNSW + WHERE)" } as const;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Recall@10 against p50 latency, one panel per filter, one line per system through its ef_search
 * sweep (points labelled with ef_search). Latency on a log scale shared by all panels.
 */
export function recallLatencyChart(points: readonly RecallPoint[], title: string): string {
  const filters = [...new Set(points.map((point) => point.filter))];
  const latencies = points.map((point) => point.p50Ms).filter((value) => value > 0);
  const minLog = Math.floor(Math.log10(Math.min(...latencies)) * 4) / 4;
  const maxLog = Math.ceil(Math.log10(Math.max(...latencies)) * 4) / 4 + (Math.min(...latencies) === Math.max(...latencies) ? 0.25 : 0);
  const width = filters.length * PANEL_WIDTH;
  const height = PANEL_HEIGHT + 70;
  const plotWidth = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(title)}</text>`,
  ];
  filters.forEach((filter, panel) => {
    const left = panel * PANEL_WIDTH + MARGIN.left;
    const top = MARGIN.top;
    const x = (ms: number) => left + ((Math.log10(ms) - minLog) / (maxLog - minLog)) * plotWidth;
    const y = (recall: number) => top + (1 - recall) * plotHeight;
    const inPanel = points.filter((point) => point.filter === filter);
    const matching = inPanel[0]?.meanMatching ?? 0;
    parts.push(`<text x="${left + plotWidth / 2}" y="${top - 8}" text-anchor="middle" font-weight="600">${escapeXml(filter === 'none' ? 'no filter' : `filter ${filter}`)} (${matching} rows match)</text>`);
    parts.push(`<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`);
    for (const recall of [0, 0.25, 0.5, 0.75, 0.95, 1]) {
      parts.push(`<line x1="${left}" x2="${left + plotWidth}" y1="${y(recall)}" y2="${y(recall)}" stroke="${recall === 0.95 ? '#2b8a3e' : '#eee'}" ${recall === 0.95 ? 'stroke-dasharray="4 3"' : ''}/>`);
      parts.push(`<text x="${left - 6}" y="${y(recall) + 4}" text-anchor="end">${recall}</text>`);
    }
    for (let tick = Math.ceil(minLog); tick <= maxLog; tick++) {
      for (const factor of [1, 2, 5]) {
        const ms = factor * 10 ** tick;
        if (Math.log10(ms) < minLog || Math.log10(ms) > maxLog) continue;
        parts.push(`<line x1="${x(ms)}" x2="${x(ms)}" y1="${top + plotHeight}" y2="${top + plotHeight + 4}" stroke="#999"/>`);
        parts.push(`<text x="${x(ms)}" y="${top + plotHeight + 16}" text-anchor="middle">${ms}</text>`);
      }
    }
    parts.push(`<text x="${left + plotWidth / 2}" y="${top + plotHeight + 32}" text-anchor="middle">p50 latency (ms, log scale)</text>`);
    if (panel === 0) parts.push(`<text transform="translate(${left - 38} ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">recall@10</text>`);
    for (const system of ['quarry', 'guide'] as const) {
      const series = inPanel.filter((point) => point.system === system).sort((a, b) => a.efSearch - b.efSearch);
      if (series.length === 0) continue;
      parts.push(`<polyline fill="none" stroke="${COLOURS[system]}" stroke-width="1.5" points="${series.map((point) => `${x(point.p50Ms).toFixed(1)},${y(point.recall).toFixed(1)}`).join(' ')}"/>`);
      for (const point of series) {
        const cx = x(point.p50Ms).toFixed(1);
        const cy = y(point.recall).toFixed(1);
        parts.push(
          system === 'quarry'
            ? `<circle cx="${cx}" cy="${cy}" r="4" fill="${COLOURS[system]}"><title>${escapeXml(`Quarry, ef_search ${point.efSearch}: recall ${point.recall}, short ${point.shortShare}, p50 ${point.p50Ms} ms`)}</title></circle>`
            : `<rect x="${Number(cx) - 4}" y="${Number(cy) - 4}" width="8" height="8" fill="${COLOURS[system]}"><title>${escapeXml(`guide, ef_search ${point.efSearch}: recall ${point.recall}, short ${point.shortShare}, p50 ${point.p50Ms} ms`)}</title></rect>`,
        );
        parts.push(`<text x="${Number(cx) + 6}" y="${Number(cy) + (system === 'quarry' ? -6 : 14)}" fill="${COLOURS[system]}" font-size="9">ef ${point.efSearch}</text>`);
      }
    }
  });
  const legendY = height - 12;
  parts.push(`<circle cx="20" cy="${legendY - 4}" r="4" fill="${COLOURS.quarry}"/><text x="30" y="${legendY}">${LABELS.quarry}</text>`);
  parts.push(`<rect x="216" y="${legendY - 8}" width="8" height="8" fill="${COLOURS.guide}"/><text x="230" y="${legendY}">${escapeXml(LABELS.guide)}</text>`);
  parts.push(`<line x1="470" x2="490" y1="${legendY - 4}" y2="${legendY - 4}" stroke="#2b8a3e" stroke-dasharray="4 3"/><text x="496" y="${legendY}">target recall 0.95</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
