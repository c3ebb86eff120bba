// One run: its facts, params, tags, latest metrics, a chart per metric (step or time on the x
// axis, sampled on the server, zoom re-queries the visible steps) and its artifacts.

import { api, artifactDownloadUrl } from '../api.js';
import { chartGrid, runColor } from '../chart.js';
import {
  empty, errorBox, fill, formatBytes, formatDuration, formatTime, formatValue, h, loading, section,
  statusBadge,
} from '../dom.js';
import { href, replaceQuery } from '../nav.js';

const FIRST_CHARTS = 8;

export async function render({ main, params: [runId], query, signal }) {
  const { run } = await api.run(runId, { signal });
  const { info, data } = run;
  document.title = `${info.run_name} · ledgerflow`;
  let xMode = query.get('x') === 'time' ? 'time' : 'step';
  let showAll = query.get('charts') === 'all';
  const metrics = [...(data.metrics ?? [])].sort((a, b) => a.key.localeCompare(b.key));
  const tags = data.tags ?? [];
  const userTags = tags.filter((t) => !t.key.startsWith('mlflow.'));
  const systemTags = tags.filter((t) => t.key.startsWith('mlflow.'));

  const chartsBox = h('div', { class: 'charts', id: 'charts' });
  let cleanupCharts = () => {};
  const drawCharts = () => {
    cleanupCharts();
    chartsBox.replaceChildren();
    if (!metrics.length) {
      chartsBox.append(empty('No metrics logged.', 'Log some with ', h('code', {}, 'mlflow.log_metric("loss", 0.5, step=1)'), '.'));
      cleanupCharts = () => {};
      return;
    }
    const keys = metrics.map((m) => m.key).slice(0, showAll ? undefined : FIRST_CHARTS);
    cleanupCharts = chartGrid(chartsBox, keys, [{ id: info.run_id, name: info.run_name, color: runColor(0) }], xMode);
    if (!showAll && metrics.length > FIRST_CHARTS) {
      chartsBox.append(h('button', { type: 'button', class: 'secondary', onclick: () => {
        showAll = true;
        replaceQuery({ x: xMode === 'time' ? 'time' : '', charts: 'all' });
        drawCharts();
      } }, `Show all ${metrics.length} charts`));
    }
  };
  const axisToggle = h('div', { class: 'segmented', role: 'radiogroup', 'aria-label': 'x axis' },
    ['step', 'time'].map((mode) => h('label', {},
      h('input', { type: 'radio', name: 'x-axis', value: mode, checked: xMode === mode, onchange: () => {
        xMode = mode;
        replaceQuery({ x: mode === 'time' ? 'time' : '', charts: showAll ? 'all' : '' });
        drawCharts();
      } }), mode === 'step' ? 'Step' : 'Time')));

  fill(main,
    h('div', { class: 'breadcrumbs' },
      h('a', { href: '#/experiments' }, 'Experiments'), ' / ',
      experimentLink(info.experiment_id, signal), ' / ',
      info.run_name),
    h('div', { class: 'page-head' }, h('h1', {}, info.run_name), statusBadge(info.status),
      info.lifecycle_stage !== 'active' ? h('span', { class: 'badge badge-warn' }, info.lifecycle_stage) : null),
    h('dl', { class: 'facts' },
      fact('Run ID', h('span', { class: 'mono' }, info.run_id)),
      fact('Experiment', h('a', { href: href(`/experiments/${info.experiment_id}`) }, info.experiment_id)),
      fact('Started', formatTime(info.start_time)),
      fact('Ended', formatTime(info.end_time)),
      fact('Duration', info.end_time ? formatDuration(info.end_time - info.start_time) : 'running'),
      fact('User', info.user_id || '—'),
      fact('Artifacts', h('span', { class: 'mono small' }, info.artifact_uri))),
    section('Metrics', h('div', { class: 'toolbar' }, h('span', { class: 'muted small' }, 'x axis'), axisToggle,
      h('span', { class: 'muted small' }, 'Drag across a chart to zoom in; double-click to zoom out.')),
    chartsBox, metrics.length ? metricsTable(metrics) : null),
    h('div', { class: 'two-columns' },
      section('Parameters', keyValueTable(data.params ?? [], 'params', 'No parameters logged.')),
      section('Tags', keyValueTable(userTags, 'tags', 'No tags set.'),
        systemTags.length ? h('details', {}, h('summary', { class: 'muted small' }, `${systemTags.length} system tags (mlflow.*)`),
          keyValueTable(systemTags, 'system-tags', '')) : null)),
    section('Artifacts', artifactTree(info, signal)));
  drawCharts();
  return () => cleanupCharts();
}

/** A link to the run's experiment, named once its name has arrived. */
function experimentLink(experimentId, signal) {
  const link = h('a', { href: href(`/experiments/${experimentId}`) }, `Experiment ${experimentId}`);
  api.experiment(experimentId, { signal })
    .then(({ experiment }) => { link.textContent = experiment.name; })
    .catch(() => {}); // the id stays; the run page does not depend on it
  return link;
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function metricsTable(metrics) {
  return h('table', { class: 'data compact', id: 'latest-metrics' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Metric'), h('th', { class: 'num' }, 'Latest value'),
      h('th', { class: 'num' }, 'Step'), h('th', {}, 'Logged'))),
    h('tbody', {}, metrics.map((m) => h('tr', {},
      h('td', {}, m.key), h('td', { class: 'num' }, formatValue(m.value)),
      h('td', { class: 'num' }, m.step), h('td', {}, formatTime(m.timestamp))))));
}

function keyValueTable(items, id, emptyText) {
  if (!items.length) return emptyText ? empty(emptyText) : null;
  return h('table', { class: 'data compact kv', id },
    h('tbody', {}, items.map((item) => h('tr', {}, h('th', { scope: 'row' }, item.key), h('td', {}, item.value)))));
}

/** The run's artifacts, one directory at a time (MLflow's artifacts/list), with download links. */
function artifactTree(info, signal) {
  const root = h('div', { class: 'artifacts', id: 'artifacts' }, loading('Listing artifacts…'));
  const list = async (path, into) => {
    try {
      const answer = await api.artifacts(info.run_id, path, { signal });
      const files = answer.files ?? [];
      if (!files.length) {
        fill(into, path ? h('span', { class: 'muted small' }, 'empty directory')
          : empty('No artifacts.', 'Log some with ', h('code', {}, 'mlflow.log_artifact("model.pkl")'), '.'));
        return;
      }
      fill(into, h('ul', { class: 'tree' }, files.map((file) => {
        const name = file.path.split('/').at(-1);
        if (file.is_dir) {
          const children = h('div', { class: 'tree-children' });
          let opened = false;
          return h('li', {}, h('details', { ontoggle: (event) => {
            if (event.target.open && !opened) {
              opened = true;
              fill(children, loading());
              list(file.path, children);
            }
          } }, h('summary', {}, `${name}/`), children));
        }
        const url = artifactDownloadUrl(answer.root_uri ?? info.artifact_uri, file.path);
        return h('li', {}, url ? h('a', { href: url, download: name }, name) : name,
          file.file_size !== undefined ? h('span', { class: 'muted small' }, ` ${formatBytes(file.file_size)}`) : null);
      })));
    } catch (err) {
      if (err.name !== 'AbortError') fill(into, errorBox(err, () => list(path, into)));
    }
  };
  list('', root);
  return root;
}
