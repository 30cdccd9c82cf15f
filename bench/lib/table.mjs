// The table the runner prints: Markdown, so it can be pasted into an issue.

export function fmt(v) {
  if (v === undefined || v === null) {
    return '';
  }
  if (!Number.isFinite(v)) {
    return String(v);
  }
  const a = Math.abs(v);
  if (a >= 1000) {
    return v.toFixed(0);
  }
  if (a >= 100) {
    return v.toFixed(1);
  }
  if (a >= 10) {
    return v.toFixed(2);
  }
  return v.toFixed(3).replace(/0$/, '');
}

export function ratio(row) {
  if (!row.baseline || !row.baseline.value) {
    return '';
  }
  return `${(row.value / row.baseline.value).toFixed(2)}x`;
}

export function renderTable(rows) {
  const head = [
    'id',
    'value',
    'unit',
    'n',
    'min',
    'compared with',
    'its value',
    'ratio'
  ];
  const body = rows.map(r => [
    r.id,
    fmt(r.value),
    r.unit ?? '',
    r.n === undefined ? '' : String(r.n),
    fmt(r.min),
    r.baseline?.label ?? '',
    fmt(r.baseline?.value),
    ratio(r)
  ]);
  const numeric = new Set([1, 3, 4, 6, 7]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map(b => b[i].length))
  );
  const line = cells =>
    '| ' +
    cells
      .map((c, i) =>
        numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])
      )
      .join(' | ') +
    ' |';
  const rule =
    '|' +
    widths
      .map((w, i) =>
        numeric.has(i) ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2)
      )
      .join('|') +
    '|';
  const notes = rows.filter(r => r.note).map(r => `- ${r.id}: ${r.note}`);
  return [
    line(head),
    rule,
    ...body.map(line),
    ...(notes.length ? ['', ...notes] : [])
  ].join('\n');
}
