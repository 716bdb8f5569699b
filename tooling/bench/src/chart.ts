import type { RecallPoint } from './recall-bench';

const PANEL_WIDTH = 300;
const PANEL_HEIGHT = 260;
const MARGIN = { top: 62, right: 16, bottom: 46, left: 52 };
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
  const maxLog =
    Math.ceil(Math.log10(Math.max(...latencies)) * 4) / 4 +
    (Math.min(...latencies) === Math.max(...latencies) ? 0.25 : 0);
  // The interesting band is near the top: the axis starts just below the lowest recall (at most 0.9).
  const lowest = Math.min(...points.map((point) => point.recall));
  const yMin = Math.max(0, Math.min(0.9, Math.floor((lowest - 0.02) * 20) / 20));
  const yStep = 1 - yMin <= 0.3 ? 0.05 : 1 - yMin <= 0.6 ? 0.1 : 0.25;
  const yTicks = Array.from(
    { length: Math.round((1 - yMin) / yStep) + 1 },
    (_, i) => Math.round((yMin + i * yStep) * 100) / 100,
  );
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
    const y = (recall: number) => top + ((1 - recall) / (1 - yMin)) * plotHeight;
    const inPanel = points.filter((point) => point.filter === filter);
    const matching = inPanel[0]?.meanMatching ?? 0;
    parts.push(
      `<text x="${left + plotWidth / 2}" y="${top - 30}" text-anchor="middle" font-weight="600">${escapeXml(filter === 'none' ? 'no filter' : `filter ${filter}`)} (${matching} rows match)</text>`,
    );
    parts.push(
      `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999"/>`,
    );
    for (const recall of yTicks) {
      parts.push(
        `<line x1="${left}" x2="${left + plotWidth}" y1="${y(recall)}" y2="${y(recall)}" stroke="#eee"/>`,
      );
      parts.push(`<text x="${left - 6}" y="${y(recall) + 4}" text-anchor="end">${recall}</text>`);
    }
    parts.push(
      `<line x1="${left}" x2="${left + plotWidth}" y1="${y(0.95)}" y2="${y(0.95)}" stroke="#2b8a3e" stroke-dasharray="4 3"/>`,
    );
    for (let tick = Math.ceil(minLog); tick <= maxLog; tick++) {
      for (const factor of [1, 2, 5]) {
        const ms = factor * 10 ** tick;
        if (Math.log10(ms) < minLog || Math.log10(ms) > maxLog) continue;
        parts.push(
          `<line x1="${x(ms)}" x2="${x(ms)}" y1="${top + plotHeight}" y2="${top + plotHeight + 4}" stroke="#999"/>`,
        );
        parts.push(
          `<text x="${x(ms)}" y="${top + plotHeight + 16}" text-anchor="middle">${ms}</text>`,
        );
      }
    }
    parts.push(
      `<text x="${left + plotWidth / 2}" y="${top + plotHeight + 32}" text-anchor="middle">p50 latency (ms, log scale)</text>`,
    );
    if (panel === 0)
      parts.push(
        `<text transform="translate(${left - 38} ${top + plotHeight / 2}) rotate(-90)" text-anchor="middle">recall@10</text>`,
      );
    for (const system of ['quarry', 'guide'] as const) {
      const series = inPanel
        .filter((point) => point.system === system)
        .sort((a, b) => a.efSearch - b.efSearch);
      if (series.length === 0) continue;
      parts.push(
        `<polyline fill="none" stroke="${COLOURS[system]}" stroke-width="1.5" points="${series.map((point) => `${x(point.p50Ms).toFixed(1)},${y(point.recall).toFixed(1)}`).join(' ')}"/>`,
      );
      for (const [index, point] of series.entries()) {
        const cx = x(point.p50Ms).toFixed(1);
        const cy = y(point.recall).toFixed(1);
        parts.push(
          system === 'quarry'
            ? `<circle cx="${cx}" cy="${cy}" r="4" fill="${COLOURS[system]}"><title>${escapeXml(`Quarry, ef_search ${point.efSearch}: recall ${point.recall}, short ${point.shortShare}, p50 ${point.p50Ms} ms`)}</title></circle>`
            : `<rect x="${Number(cx) - 4}" y="${Number(cy) - 4}" width="8" height="8" fill="${COLOURS[system]}"><title>${escapeXml(`guide, ef_search ${point.efSearch}: recall ${point.recall}, short ${point.shortShare}, p50 ${point.p50Ms} ms`)}</title></rect>`,
        );
        // Staggered so the labels of nearby points stay apart.
        const dy = [-7, 14, -17][index % 3]! * (system === 'quarry' ? 1 : -1);
        parts.push(
          `<text x="${Number(cx) + 6}" y="${Number(cy) + dy}" fill="${COLOURS[system]}" font-size="9">ef ${point.efSearch}</text>`,
        );
      }
    }
  });
  const legendY = height - 12;
  parts.push(
    `<circle cx="20" cy="${legendY - 4}" r="4" fill="${COLOURS.quarry}"/><text x="30" y="${legendY}">${LABELS.quarry}</text>`,
  );
  parts.push(
    `<rect x="156" y="${legendY - 8}" width="8" height="8" fill="${COLOURS.guide}"/><text x="170" y="${legendY}">${escapeXml(LABELS.guide)}</text>`,
  );
  parts.push(
    `<line x1="380" x2="400" y1="${legendY - 4}" y2="${legendY - 4}" stroke="#2b8a3e" stroke-dasharray="4 3"/><text x="406" y="${legendY}">target recall 0.95; labels are hnsw.ef_search</text>`,
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
