// Experiments: every experiment with its run counts and last activity, most recent first
// (GET /api/ledgerflow/ui/experiments), narrowed by name in the browser.

import { api } from '../api.js';
import { badge, empty, errorBox, fill, formatTime, h, loading, timeAgo } from '../dom.js';
import { href, replaceQuery } from '../nav.js';

export async function render({ main, query, signal }) {
  document.title = 'Experiments · ledgerflow';
  const showDeleted = query.get('deleted') === '1';
  const nameFilter = h('input', {
    type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter experiments by name',
    value: query.get('q') ?? '',
  });
  const deletedBox = h('input', { type: 'checkbox', checked: showDeleted });
  const body = h('div', {}, loading('Loading experiments…'));
  fill(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Experiments'),
      h('div', { class: 'toolbar' }, nameFilter,
        h('label', { class: 'check' }, deletedBox, ' Show deleted'))),
    body);

  let experiments = [];
  const show = () => {
    const needle = nameFilter.value.trim().toLowerCase();
    const shown = experiments.filter((e) => e.name.toLowerCase().includes(needle));
    if (!experiments.length) {
      fill(body, empty('No experiments yet.',
        'Create one from Python with ', h('code', {}, "mlflow.set_experiment('my-experiment')"), '.'));
    } else if (!shown.length) {
      fill(body, empty(`No experiment name contains “${nameFilter.value}”.`));
    } else {
      fill(body, table(shown));
    }
  };
  nameFilter.addEventListener('input', () => {
    replaceQuery({ q: nameFilter.value, deleted: showDeleted ? '1' : '' });
    show();
  });
  deletedBox.addEventListener('change', () => {
    window.location.hash = href('/experiments', { q: nameFilter.value, deleted: deletedBox.checked ? '1' : '' });
  });

  const load = async () => {
    fill(body, loading('Loading experiments…'));
    try {
      const answer = await api.experimentsSummary(showDeleted ? 'ALL' : 'ACTIVE_ONLY', { signal });
      experiments = answer.experiments;
      show();
      if (answer.truncated) {
        body.prepend(h('p', { class: 'notice' }, `Showing the ${experiments.length} most recently active experiments.`));
      }
    } catch (err) {
      if (err.name !== 'AbortError') fill(body, errorBox(err, load));
    }
  };
  await load();
}

function table(experiments) {
  return h('table', { class: 'data', id: 'experiments' },
    h('thead', {}, h('tr', {},
      h('th', {}, 'Name'), h('th', {}, 'ID'), h('th', { class: 'num' }, 'Runs'),
      h('th', {}, 'Last activity'), h('th', {}, 'Created'))),
    h('tbody', {}, experiments.map((e) => h('tr', { dataset: { experimentId: e.experiment_id } },
      h('td', {}, h('a', { href: href(`/experiments/${encodeURIComponent(e.experiment_id)}`) }, e.name),
        e.lifecycle_stage !== 'active' ? [' ', badge('deleted', 'warn')] : null),
      h('td', { class: 'mono' }, e.experiment_id),
      h('td', { class: 'num' }, e.runs.active.toLocaleString(),
        e.runs.deleted ? h('span', { class: 'muted small' }, ` (+${e.runs.deleted} deleted)`) : null),
      h('td', {}, timeAgo(e.last_activity)),
      h('td', {}, formatTime(e.creation_time))))));
}
