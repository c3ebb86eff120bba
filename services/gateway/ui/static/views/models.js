// The registry: registered models (MLflow's registered-models/search), with their latest
// version per stage and their aliases, paged with MLflow's page token.

import { api, quoted } from '../api.js';
import { badge, empty, errorBox, fill, h, loading, timeAgo } from '../dom.js';
import { href } from '../nav.js';

export async function render({ main, query, signal }) {
  document.title = 'Registry · ledgerflow';
  const name = query.get('q') ?? '';
  const page = query.get('page') ?? '';
  const input = h('input', { type: 'search', name: 'q', value: name, placeholder: 'Name contains…', 'aria-label': 'Filter models by name' });
  const body = h('div', {}, loading('Loading models…'));
  fill(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Model registry'),
      h('form', { class: 'toolbar', onsubmit: (event) => {
        event.preventDefault();
        window.location.hash = href('/models', { q: input.value.trim() });
      } }, input, h('button', { type: 'submit' }, 'Search'))),
    body);
  let answer;
  try {
    answer = await api.searchModels({
      filter: name ? `name ILIKE ${quoted(`%${name}%`)}` : '',
      pageToken: page,
    }, { signal });
  } catch (err) {
    if (err.name !== 'AbortError') fill(body, errorBox(err));
    return null;
  }
  const models = answer.registered_models ?? [];
  if (!models.length) {
    fill(body, name ? empty(`No model name contains “${name}”.`)
      : empty('No registered models yet.', 'Register one with ',
        h('code', {}, 'mlflow.register_model("runs:/<run_id>/model", "my-model")'), '.'));
    return null;
  }
  fill(body, h('table', { class: 'data', id: 'models' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Model'), h('th', {}, 'Latest versions'),
      h('th', {}, 'Aliases'), h('th', {}, 'Last updated'), h('th', {}, 'Description'))),
    h('tbody', {}, models.map((m) => h('tr', { dataset: { model: m.name } },
      h('td', {}, h('a', { href: href(`/models/${encodeURIComponent(m.name)}`) }, m.name)),
      h('td', {}, (m.latest_versions ?? []).map((v) => h('span', { class: 'version-chip' },
        `v${v.version} `, stageBadge(v.current_stage)))),
      h('td', {}, (m.aliases ?? []).map((a) => h('span', { class: 'alias' }, `@${a.alias} → v${a.version}`))),
      h('td', {}, timeAgo(m.last_updated_timestamp ?? m.creation_timestamp)),
      h('td', { class: 'muted' }, m.description ?? ''))))),
  h('nav', { class: 'pager' },
    page ? h('a', { href: href('/models', { q: name }) }, '« First page') : null,
    answer.next_page_token ? h('a', { href: href('/models', { q: name, page: answer.next_page_token }) }, 'Next page »') : null));
  return null;
}

export function stageBadge(stage) {
  const kinds = { Production: 'ok', Staging: 'info', Archived: 'muted', None: '' };
  return badge(stage ?? 'None', kinds[stage] ?? '');
}
