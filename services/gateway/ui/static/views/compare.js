// Several runs side by side (#/compare?runs=a,b,c): their metrics overlaid on one chart per key,
// and their params, latest metrics and tags in columns, rows that differ marked.

import { api } from '../api.js';
import { chartGrid, runColor } from '../chart.js';
import { empty, fill, formatValue, h, keyed, section, statusBadge } from '../dom.js';
import { href, replaceQuery } from '../nav.js';

export async function render({ main, query, signal }) {
  document.title = 'Compare runs · ledgerflow';
  const ids = [...new Set((query.get('runs') ?? '').split(',').filter(Boolean))];
  if (ids.length < 1) {
    fill(main, h('h1', {}, 'Compare runs'),
      empty('No runs chosen.', 'Select two or more runs in an experiment\'s table and press “Compare selected”.'));
    return null;
  }
  const runs = (await Promise.all(ids.map((id) => api.run(id, { signal })))).map((a) => a.run);
  const series = runs.map((run, i) => ({ id: run.info.run_id, name: run.info.run_name, color: runColor(i) }));
  let xMode = query.get('x') === 'time' ? 'time' : 'step';
  let onlyDiff = query.get('diff') === '1';
  const keys = [...new Set(runs.flatMap((r) => (r.data.metrics ?? []).map((m) => m.key)))].sort();

  const chartsBox = h('div', { class: 'charts', id: 'charts' });
  let cleanup = () => {};
  const drawCharts = () => {
    cleanup();
    chartsBox.replaceChildren();
    cleanup = keys.length ? chartGrid(chartsBox, keys, series, xMode) : () => {};
    if (!keys.length) chartsBox.append(empty('None of these runs logged a metric.'));
  };
  const persist = () => replaceQuery({ runs: ids.join(','), x: xMode === 'time' ? 'time' : '', diff: onlyDiff ? '1' : '' });
  const tables = h('div', {});
  const drawTables = () => fill(tables,
    section('Parameters', sideBySide(runs, series, (r) => keyed(r.data.params), onlyDiff, 'params')),
    section('Latest metrics', sideBySide(runs, series, (r) => keyed(r.data.metrics), onlyDiff, 'metrics')),
    section('Tags', sideBySide(runs, series,
      (r) => keyed((r.data.tags ?? []).filter((t) => !t.key.startsWith('mlflow.'))), onlyDiff, 'tags')));

  fill(main,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/experiments' }, 'Experiments'), ' / ', 'Compare'),
    h('div', { class: 'page-head' }, h('h1', {}, `Comparing ${runs.length} runs`)),
    h('ul', { class: 'legend-list' }, runs.map((run, i) => h('li', {},
      h('span', { class: 'swatch', style: `background:${series[i].color}` }),
      h('a', { href: href(`/runs/${run.info.run_id}`) }, run.info.run_name), ' ',
      statusBadge(run.info.status), h('span', { class: 'muted small' }, ` experiment ${run.info.experiment_id}`)))),
    section('Metrics',
      h('div', { class: 'toolbar' }, h('span', { class: 'muted small' }, 'x axis'),
        h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'x axis' },
          ['step', 'time'].map((mode) => h('label', {}, h('input', {
            type: 'radio', name: 'x-axis', value: mode, checked: xMode === mode,
            onchange: () => { xMode = mode; persist(); drawCharts(); },
          }), mode === 'step' ? 'Step' : 'Time'))),
        h('span', { class: 'muted small' }, 'Drag to zoom; double-click to zoom out.')),
      chartsBox),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'only-differences', checked: onlyDiff, onchange: (event) => {
      onlyDiff = event.target.checked;
      persist();
      drawTables();
    } }), ' Show only rows that differ'),
    tables);
  drawCharts();
  drawTables();
  return () => cleanup();
}

function display(item) {
  if (!item) return undefined;
  return typeof item.value === 'number' ? formatValue(item.value) : item.value;
}

function sideBySide(runs, series, valuesOf, onlyDiff, id) {
  const maps = runs.map(valuesOf);
  const keys = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort();
  if (!keys.length) return empty('None.');
  const rows = keys.map((key) => {
    const values = maps.map((m) => display(m.get(key)));
    return { key, values, differs: new Set(values.map((v) => v ?? '\u0000missing')).size > 1 };
  }).filter((row) => !onlyDiff || row.differs);
  const differing = rows.filter((r) => r.differs).length;
  return h('div', { class: 'table-scroll' },
    h('p', { class: 'muted small' }, differing ? `${differing} of ${keys.length} differ (marked ≠).` : `All ${keys.length} are the same.`),
    rows.length ? h('table', { class: 'data compact side-by-side', id: `compare-${id}` },
      h('thead', {}, h('tr', {}, h('th', {}, ''), series.map((s) => h('th', {},
        h('span', { class: 'swatch', style: `background:${s.color}` }), s.name)))),
      h('tbody', {}, rows.map((row) => h('tr', { class: row.differs ? 'differs' : '', dataset: { key: row.key } },
        h('th', { scope: 'row' }, row.differs ? h('span', { class: 'diff-mark', title: 'values differ' }, '≠ ') : null, row.key),
        row.values.map((v) => h('td', { class: v === undefined ? 'muted' : '' }, v ?? '—'))))))
      : empty('No differences.'));
}
