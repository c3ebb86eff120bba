// The runs of an experiment: MLflow's runs/search with the filter, order_by and page token in
// the URL (#/experiments/1?filter=...&order=...&page=...). Columns are chosen among the params,
// latest metrics and tags of the runs shown; a header click sorts on the server (order_by).
// A filter the server refuses is shown inline, in MLflow's words.

import { api } from '../api.js';
import {
  empty, errorBox, fill, formatDuration, formatTime, formatValue, h, keyed, loading, statusBadge,
} from '../dom.js';
import { href } from '../nav.js';

const PAGE_SIZES = [25, 50, 100, 500];
const KINDS = { m: 'metrics', p: 'params', t: 'tags' };
const FIXED = [
  { id: 'name', label: 'Run', order: 'attributes.run_name' },
  { id: 'status', label: 'Status', order: 'attributes.status' },
  { id: 'start', label: 'Started', order: 'attributes.start_time' },
  { id: 'duration', label: 'Duration', order: null },
  { id: 'user', label: 'User', order: 'attributes.user_id' },
];

/** Runs per page: the URL may ask for any size MLflow allows in one request (up to 1000). */
function pageSize(text) {
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
}

/** A column of a param, metric or tag: "m:loss" → {kind: 'm', key: 'loss'}. */
function parseColumn(text) {
  const kind = text.slice(0, 1);
  return KINDS[kind] && text[1] === ':' ? { kind, key: text.slice(2) } : null;
}

function columnId(c) {
  return `${c.kind}:${c.key}`;
}

// "m:loss,p:lr": a comma or % inside a key is escaped as in a URL.
function encodeColumns(columns) {
  return columns.map((c) => columnId(c).replaceAll('%', '%25').replaceAll(',', '%2C')).join(',');
}

function decodeColumns(text) {
  return text.split(',').filter(Boolean)
    .map((t) => parseColumn(t.replaceAll('%2C', ',').replaceAll('%25', '%'))).filter(Boolean);
}

function orderKey(c) {
  return `${KINDS[c.kind]}.\`${c.key}\``;
}

export async function render({ main, params: [experimentId], query, signal }) {
  const state = {
    filter: query.get('filter') ?? '',
    order: query.get('order') ?? '',
    page: query.get('page') ?? '',
    pageNumber: Number(query.get('pn') ?? '1'),
    size: pageSize(query.get('n')),
    // Columns the user chose (in the URL, or remembered for this experiment); null: defaults.
    chosen: query.has('cols') ? decodeColumns(query.get('cols')) : null,
    columns: null,
  };
  const storageKey = `ledgerflow.columns.${experimentId}`;
  if (state.chosen === null && localStorage.getItem(storageKey) !== null) {
    state.chosen = decodeColumns(localStorage.getItem(storageKey));
  }
  const link = (changes) => href(`/experiments/${encodeURIComponent(experimentId)}`, {
    filter: state.filter,
    order: state.order,
    n: state.size === 50 ? '' : state.size,
    cols: state.chosen ? encodeColumns(state.chosen) : '',
    ...changes,
  });

  const head = h('div', { class: 'page-head' }, h('h1', {}, `Experiment ${experimentId}`));
  const filterInput = h('input', {
    type: 'search', name: 'filter', class: 'filter-input', value: state.filter, spellcheck: 'false',
    placeholder: "metrics.loss < 0.5 and params.optimizer = 'adam'",
    'aria-label': 'Filter runs (MLflow search syntax)',
  });
  const filterError = h('div', { class: 'filter-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'filter-form', onsubmit: (event) => {
    event.preventDefault();
    window.location.hash = link({ filter: filterInput.value.trim(), page: '', pn: '' });
  } },
  filterInput, h('button', { type: 'submit' }, 'Search'),
  state.filter ? h('a', { class: 'button secondary', href: link({ filter: '', page: '', pn: '' }) }, 'Clear') : null);
  const body = h('div', {}, loading('Loading runs…'));
  fill(main, head,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/experiments' }, 'Experiments'), ' / ', `Experiment ${experimentId}`),
    form,
    h('p', { class: 'muted small hint' }, 'MLflow search syntax: ',
      h('code', {}, 'metrics.acc > 0.9'), ', ', h('code', {}, "params.lr = '0.01'"), ', ',
      h('code', {}, "tags.team = 'vision'"), ', ', h('code', {}, "attributes.status = 'FINISHED'"),
      ', joined with ', h('code', {}, 'and'), '.'),
    filterError, body);

  api.experiment(experimentId, { signal }).then(({ experiment }) => {
    document.title = `${experiment.name} · ledgerflow`;
    fill(head, h('h1', {}, experiment.name),
      h('span', { class: 'muted mono small' }, `id ${experiment.experiment_id} · ${experiment.artifact_location}`));
    main.querySelector('.breadcrumbs').lastChild.textContent = experiment.name;
  }).catch((err) => {
    if (err.name !== 'AbortError') head.append(errorBox(err));
  });

  let answer;
  try {
    answer = await api.searchRuns({
      experimentIds: [experimentId],
      filter: state.filter,
      orderBy: state.order ? [state.order] : [],
      maxResults: state.size,
      pageToken: state.page,
    }, { signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    if (err.status === 400 && (state.filter || state.order)) {
      // A filter or order the server refused: say why next to the input, in MLflow's words.
      fill(filterError, h('code', { class: 'error-code' }, err.code), ' ', h('span', { class: 'error-message' }, err.message));
      filterError.hidden = false;
      filterInput.setAttribute('aria-invalid', 'true');
      fill(body, empty('No runs shown: the search was refused.', 'Correct the filter above, or ',
        h('a', { href: link({ filter: '', order: '', page: '', pn: '' }) }, 'clear it'), '.'));
      return null;
    }
    fill(body, errorBox(err, () => window.dispatchEvent(new HashChangeEvent('hashchange'))));
    return null;
  }
  const runs = answer.runs ?? [];
  if (!runs.length) {
    fill(body, state.filter
      ? empty('No run matches this filter.', 'Try a broader one, or ', h('a', { href: link({ filter: '', page: '', pn: '' }) }, 'clear it'), '.')
      : empty('No runs in this experiment yet.', 'Log one with ',
        h('code', {}, `mlflow.start_run(experiment_id="${experimentId}")`), '.'));
    return null;
  }

  // The keys present in this page, to choose columns from.
  const available = { m: new Set(), p: new Set(), t: new Set() };
  for (const run of runs) {
    for (const m of run.data.metrics ?? []) available.m.add(m.key);
    for (const p of run.data.params ?? []) available.p.add(p.key);
    for (const t of run.data.tags ?? []) if (!t.key.startsWith('mlflow.')) available.t.add(t.key);
  }
  state.columns = state.chosen ?? [
      ...[...available.m].sort().slice(0, 4).map((key) => ({ kind: 'm', key })),
    ...[...available.p].sort().slice(0, 4).map((key) => ({ kind: 'p', key })),
  ];
  const selected = new Set();
  const compareButton = h('a', { class: 'button', 'aria-disabled': 'true', id: 'compare-selected' }, 'Compare selected');
  const updateCompare = () => {
    const ids = [...selected];
    compareButton.textContent = `Compare selected (${ids.length})`;
    if (ids.length >= 2) {
      compareButton.setAttribute('href', href('/compare', { runs: ids.join(',') }));
      compareButton.removeAttribute('aria-disabled');
    } else {
      compareButton.removeAttribute('href');
      compareButton.setAttribute('aria-disabled', 'true');
    }
  };
  updateCompare();

  fill(body,
    h('div', { class: 'toolbar' }, compareButton, columnPicker(available, state.columns, (columns) => {
      localStorage.setItem(storageKey, encodeColumns(columns));
      window.location.hash = link({ cols: encodeColumns(columns), page: state.page, pn: state.page ? state.pageNumber : '' });
    }), pageSizePicker(state.size, (n) => { window.location.hash = link({ n, page: '', pn: '' }); })),
    runsTable(runs, state, link, selected, updateCompare),
    pager(state, answer.next_page_token, runs.length, link));
  return null;
}

function sortState(order, expression) {
  if (!expression) return null;
  const match = /^(.*?)(?:\s+(ASC|DESC))?$/i.exec(order.trim());
  if (!match || match[1] !== expression) return null;
  return (match[2] ?? 'ASC').toUpperCase();
}

function header(column, label, expression, state, link, extraClass) {
  if (!expression) return h('th', { class: extraClass, dataset: { column } }, label);
  const current = sortState(state.order, expression);
  const next = current === null ? `${expression} ASC` : current === 'ASC' ? `${expression} DESC` : '';
  return h('th', {
    class: [extraClass, 'sortable'],
    dataset: { column },
    'aria-sort': current === 'ASC' ? 'ascending' : current === 'DESC' ? 'descending' : 'none',
  }, h('a', { href: link({ order: next, page: '', pn: '' }), title: `Sort by ${expression}` },
    label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, current === 'ASC' ? ' ▲' : current === 'DESC' ? ' ▼' : '')));
}

function runsTable(runs, state, link, selected, onSelect) {
  const kindLabel = { m: 'metric', p: 'param', t: 'tag' };
  return h('div', { class: 'table-scroll' }, h('table', { class: 'data', id: 'runs' },
    h('thead', {}, h('tr', {},
      h('th', { class: 'select' }, h('span', { class: 'visually-hidden' }, 'Select')),
      FIXED.map((c) => header(c.id, c.label, c.order, state, link)),
      state.columns.map((c) => header(columnId(c),
        h('span', {}, h('span', { class: `kind kind-${c.kind}` }, kindLabel[c.kind]), ' ', c.key),
        orderKey(c), state, link, c.kind === 'm' ? 'num' : '')))),
    h('tbody', {}, runs.map((run) => {
      const { info, data } = run;
      const values = { m: keyed(data.metrics), p: keyed(data.params), t: keyed(data.tags) };
      const box = h('input', { type: 'checkbox', 'aria-label': `Select ${info.run_name}`, onchange: () => {
        if (box.checked) selected.add(info.run_id); else selected.delete(info.run_id);
        onSelect();
      } });
      return h('tr', { dataset: { runId: info.run_id } },
        h('td', { class: 'select' }, box),
        h('td', { class: 'run-name' }, h('a', { href: href(`/runs/${info.run_id}`) }, info.run_name || info.run_id)),
        h('td', {}, statusBadge(info.status)),
        h('td', {}, formatTime(info.start_time)),
        h('td', {}, info.end_time ? formatDuration(info.end_time - info.start_time) : '—'),
        h('td', {}, info.user_id || '—'),
        state.columns.map((c) => {
          const item = values[c.kind].get(c.key);
          if (!item) return h('td', { class: 'muted' }, '—');
          return c.kind === 'm'
            ? h('td', { class: 'num', title: `step ${item.step}` }, formatValue(item.value))
            : h('td', {}, item.value);
        }));
    }))));
}

function columnPicker(available, columns, apply) {
  const chosen = new Set(columns.map(columnId));
  for (const c of columns) available[c.kind].add(c.key);
  const groups = [['m', 'Metrics'], ['p', 'Params'], ['t', 'Tags']].map(([kind, title]) => {
    const keys = [...available[kind]].sort();
    return h('fieldset', {}, h('legend', {}, title),
      keys.length ? keys.map((key) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', value: `${kind}:${key}`, checked: chosen.has(`${kind}:${key}`) }), ' ', key))
        : h('span', { class: 'muted small' }, 'none on this page'));
  });
  const details = h('details', { class: 'column-picker' },
    h('summary', { class: 'button secondary' }, `Columns (${columns.length})`),
    h('form', { class: 'popover', onsubmit: (event) => {
      event.preventDefault();
      const picked = [...event.target.querySelectorAll('input:checked')].map((i) => parseColumn(i.value));
      apply(picked);
    } }, groups, h('button', { type: 'submit' }, 'Apply')));
  return details;
}

function pageSizePicker(size, apply) {
  return h('label', { class: 'muted small' }, 'Per page ',
    h('select', { onchange: (event) => apply(Number(event.target.value)) },
      [...new Set([...PAGE_SIZES, size])].sort((a, b) => a - b)
        .map((n) => h('option', { value: n, selected: n === size }, n))));
}

function pager(state, nextToken, count, link) {
  const first = (state.pageNumber - 1) * state.size + 1;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('span', { class: 'muted' }, `Runs ${first.toLocaleString()}–${(first + count - 1).toLocaleString()}`),
    state.page ? h('a', { href: link({ page: '', pn: '' }) }, '« First page') : null,
    nextToken ? h('a', { href: link({ page: nextToken, pn: state.pageNumber + 1 }), rel: 'next' }, 'Next page »') : null);
}
