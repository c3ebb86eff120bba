// One registered model: its versions (stage, aliases), and its history as a timeline — who
// changed what and when, the actor's kind, rejected attempts with their reason, promotion
// decisions with their evidence — with an "as of" control (a slider over the history's events,
// or a time) that shows the model as it was at that moment.
//   now:  MLflow's registered-models/get and model-versions/search
//   past: /api/ledgerflow/registry/state?name=&as_of_seq= (or as_of=<time>)
//   history: /api/ledgerflow/registry/models/<name>/history

import { api } from '../api.js';
import { badge, empty, errorBox, fill, formatTime, h, loading, section } from '../dom.js';
import { href, replaceQuery } from '../nav.js';
import { stageBadge } from './models.js';

export async function render({ main, params: [name], query, signal }) {
  document.title = `${name} · Registry · ledgerflow`;
  const [history, current] = await Promise.all([
    api.modelHistory(name, { signal }),
    currentState(name, signal),
  ]);
  const entries = history.entries;
  if (!entries.length) {
    fill(main, empty(`Model ${name} has no history.`));
    return null;
  }
  const last = entries.length - 1;
  const slider = h('input', {
    type: 'range', id: 'as-of-slider', min: 0, max: last, step: 1, value: last,
    'aria-label': 'Show the model as of this event',
  });
  const sliderLabel = h('output', { for: 'as-of-slider', id: 'as-of-label' });
  const timeInput = h('input', { type: 'datetime-local', step: 1, id: 'as-of-time', 'aria-label': 'As of time (your local time)' });
  const stateBox = h('div', { id: 'model-state' });
  const timeline = h('ol', { class: 'timeline', id: 'history' }, entries.map(entryView));
  let controller = null;
  let position = last;

  const show = async (target) => {
    // target: {index} (an event of this model's history) or {time} (an ISO-8601 instant)
    controller?.abort();
    controller = new AbortController();
    const local = controller;
    fill(stateBox, loading('Loading the registry at that moment…'));
    stateBox.setAttribute('aria-busy', 'true');
    try {
      let state;
      if (target.index === last && target.time === undefined) {
        state = current ?? await currentState(name, local.signal);
        position = last;
        replaceQuery({});
      } else {
        const asOf = target.time !== undefined ? { asOf: target.time } : { asOfSeq: entries[target.index].seq };
        state = await pastState(name, asOf, local.signal);
        position = target.time !== undefined
          ? lastIndexAtOrBefore(entries, state.lastSeq)
          : target.index;
        replaceQuery(target.time !== undefined ? { as_of: target.time } : { as_of_seq: entries[target.index].seq });
      }
      if (local.signal.aborted) return;
      slider.value = String(Math.max(0, position));
      sliderLabel.replaceChildren(...positionLabel(entries, position, target.time, last));
      markTimeline(timeline, entries, position, target.time !== undefined && position < 0);
      fill(stateBox, stateView(state, position === last && target.time === undefined, target, entries[position]));
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err.code === 'RESOURCE_DOES_NOT_EXIST' && target.time !== undefined) {
        position = -1;
        markTimeline(timeline, entries, -1, true);
        sliderLabel.replaceChildren(`${formatTime(target.time)}: before the model existed`);
        fill(stateBox, empty(`Model ${name} did not exist yet at ${formatTime(target.time)}.`));
      } else {
        fill(stateBox, errorBox(err, () => show(target)));
      }
    } finally {
      stateBox.removeAttribute('aria-busy');
    }
  };

  let debounce = null;
  slider.addEventListener('input', () => {
    const index = Number(slider.value);
    sliderLabel.replaceChildren(...positionLabel(entries, index, undefined, last));
    clearTimeout(debounce);
    debounce = setTimeout(() => show({ index }), 150);
  });
  timeline.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-index]');
    if (button) show({ index: Number(button.dataset.index) });
  });
  const timeForm = h('form', { class: 'as-of-time', onsubmit: (event) => {
    event.preventDefault();
    if (timeInput.value) show({ time: new Date(timeInput.value).toISOString() });
  } }, h('label', { for: 'as-of-time' }, 'or at a time'), timeInput, h('button', { type: 'submit' }, 'Show'),
  h('button', { type: 'button', class: 'secondary', onclick: () => show({ index: last }) }, 'Now'));

  fill(main,
    h('div', { class: 'breadcrumbs' }, h('a', { href: '#/models' }, 'Registry'), ' / ', name),
    h('div', { class: 'page-head' }, h('h1', {}, name),
      current === null ? badge('deleted', 'warn') : null),
    h('section', { class: 'panel as-of' },
      h('h2', {}, 'As of'),
      h('div', { class: 'as-of-controls' }, h('span', { class: 'muted small' }, 'first event'), slider,
        h('span', { class: 'muted small' }, 'now')),
      h('p', {}, sliderLabel),
      timeForm),
    stateBox,
    section(`History (${entries.length} events)`, timeline));

  const seq = Number(query.get('as_of_seq'));
  if (query.get('as_of')) await show({ time: query.get('as_of') });
  else if (query.has('as_of_seq') && Number.isInteger(seq)) await show({ index: Math.max(0, lastIndexAtOrBefore(entries, seq)) });
  else await show({ index: last });
  return () => { controller?.abort(); clearTimeout(debounce); };
}

function lastIndexAtOrBefore(entries, seq) {
  let found = -1;
  entries.forEach((e, i) => { if (e.seq <= seq) found = i; });
  return found;
}

/** The model now, or null when it no longer exists. */
async function currentState(name, signal) {
  try {
    const [{ registered_model: model }, versions] = await Promise.all([
      api.model(name, { signal }),
      api.searchVersions(name, { signal }),
    ]);
    return normalise(model, versions.model_versions ?? [], null);
  } catch (err) {
    if (err.code === 'RESOURCE_DOES_NOT_EXIST') return null;
    throw err;
  }
}

async function pastState(name, asOf, signal) {
  const answer = await api.registryState({ name, ...asOf }, { signal });
  const model = answer.registered_models[0];
  return { ...normalise(model, model.model_versions ?? [], answer), lastSeq: answer.last_event?.seq ?? 0 };
}

function normalise(model, versions, answer) {
  const aliases = model.aliases ?? [];
  return {
    model,
    answer,
    aliases,
    versions: versions
      .filter((v) => v.current_stage !== 'Deleted_Internal')
      .map((v) => ({
        ...v,
        aliases: aliases.filter((a) => String(a.version) === String(v.version)).map((a) => a.alias),
      }))
      .sort((a, b) => Number(b.version) - Number(a.version)),
  };
}

/** The text beside the slider (a list of nodes and strings). */
function positionLabel(entries, index, time, last) {
  if (time !== undefined) return [`As of ${formatTime(time)}`];
  const entry = entries[index];
  if (!entry) return [];
  return [
    index === last ? 'Now: after ' : 'After ',
    h('strong', {}, `event #${entry.seq}`),
    ` (${describe(entry)}) on ${formatTime(entry.recorded_at ?? entry.occurred_at)} by ${entry.actor.name}`,
  ];
}

function markTimeline(timeline, entries, position, before) {
  timeline.querySelectorAll('li.entry').forEach((li, i) => {
    li.classList.toggle('future', before || i > position);
    li.classList.toggle('as-of-point', !before && i === position);
  });
}

function stateView(state, isNow, target, entry) {
  if (state === null) {
    return h('section', { class: 'panel' }, h('h2', {}, 'Versions now'),
      empty('This model has been deleted.', 'Move the “as of” control back to see it as it was.'));
  }
  const title = isNow ? 'Versions now'
    : target.time !== undefined ? `Versions as of ${formatTime(target.time)}`
      : `Versions as of event #${entry.seq}`;
  return h('section', { class: ['panel', !isNow && 'past'], dataset: { asOf: isNow ? 'now' : String(state.lastSeq) } },
    h('h2', {}, title),
    isNow ? null : h('p', { class: 'notice' }, 'The registry as it was then, folded from the audit log. ',
      state.answer?.last_event ? `Last registry event at that moment: #${state.answer.last_event.seq} (${state.answer.last_event.event_type}).` : ''),
    state.model.description ? h('p', {}, state.model.description) : null,
    h('p', {}, 'Aliases: ', state.aliases.length
      ? state.aliases.map((a) => h('span', { class: 'alias', dataset: { alias: a.alias } }, `@${a.alias} → v${a.version}`))
      : h('span', { class: 'muted' }, 'none')),
    state.versions.length ? h('table', { class: 'data', id: 'versions' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'Stage'), h('th', {}, 'Aliases'),
        h('th', {}, 'Run'), h('th', {}, 'Registered'), h('th', {}, 'Description'))),
      h('tbody', {}, state.versions.map((v) => h('tr', { dataset: { version: v.version } },
        h('td', {}, `v${v.version}`),
        h('td', { class: 'stage' }, stageBadge(v.current_stage)),
        h('td', { class: 'aliases' }, v.aliases.map((a) => h('span', { class: 'alias' }, `@${a}`))),
        h('td', {}, v.run_id ? h('a', { href: href(`/runs/${v.run_id}`), class: 'mono' }, v.run_id.slice(0, 8)) : h('span', { class: 'muted small' }, v.source ?? '—')),
        h('td', {}, formatTime(v.creation_timestamp)),
        h('td', { class: 'muted' }, v.description ?? '')))))
      : empty('No versions at this moment.'));
}

// ------------------------------------------------------------------------------------------
// The timeline

const ACTOR_KINDS = {
  authenticated: ['verified', 'ok'],
  self_reported: ['self-reported', 'warn'],
  anonymous: ['anonymous', 'muted'],
  system: ['system', 'info'],
};

function describe(entry) {
  const p = entry.payload ?? {};
  // A version's number is decided when it is created: the event's changes carry it.
  const number = p.version ?? entry.changes?.find((c) => c.field === 'version')?.version;
  const v = number !== undefined ? `version ${number}` : '';
  switch (entry.event_type) {
    case 'registered_model.created': return 'created the model';
    case 'registered_model.renamed': return `renamed the model to ${p.new_name}`;
    case 'registered_model.updated': return 'updated the description';
    case 'registered_model.deleted': return 'deleted the model';
    case 'registered_model.tag_set': return `set model tag ${p.key}`;
    case 'registered_model.tag_deleted': return `deleted model tag ${p.key}`;
    case 'model_version.created': return `registered ${v || 'a version'}`;
    case 'model_version.updated': return `updated ${v}`;
    case 'model_version.deleted': return `deleted ${v}`;
    case 'model_version.stage_transitioned':
      return `moved ${v} to ${p.stage}${p.archive_existing_versions ? ' (archiving the others)' : ''}`;
    case 'model_version.tag_set': return `set tag ${p.key} on ${v}`;
    case 'model_version.tag_deleted': return `deleted tag ${p.key} of ${v}`;
    case 'model_alias.set': return `pointed @${p.alias} at ${v}`;
    case 'model_alias.deleted': return `removed alias @${p.alias}`;
    case 'promotion.decided':
      return `${p.passed ? 'approved' : 'refused'} promoting ${v} to ${p.target_stage ?? `@${p.target_alias}`}`;
    default: return entry.event_type;
  }
}

function changeText(c) {
  const val = (x) => (x === null || x === undefined ? '∅' : String(x));
  switch (c.field) {
    case 'stage': return `v${c.version} stage: ${val(c.before)} → ${c.after}`;
    case 'alias':
      if (c.before === null || c.before === undefined) return `@${c.alias} set to v${c.after}`;
      if (c.after === null || c.after === undefined) return `@${c.alias} removed (was v${c.before})`;
      return `@${c.alias}: v${c.before} → v${c.after}`;
    case 'version': return `v${c.version} ${c.after}`;
    case 'model': return c.after ? `model ${c.after} created` : `model ${c.before} deleted`;
    case 'tag': return `tag ${c.key}: ${val(c.before)} → ${val(c.after)}`;
    case 'version_tag': return `v${c.version} tag ${c.key}: ${val(c.before)} → ${val(c.after)}`;
    case 'version_description': return `v${c.version} description changed`;
    default: return `${c.field}: ${val(c.before)} → ${val(c.after)}`;
  }
}

function entryView(entry, index) {
  const [kindText, kindClass] = ACTOR_KINDS[entry.actor.kind] ?? [entry.actor.kind, ''];
  const rejected = entry.verdict !== 'accepted';
  return h('li', { class: ['entry', rejected && 'rejected'], dataset: { seq: entry.seq, eventType: entry.event_type } },
    h('div', { class: 'entry-head' },
      h('time', { datetime: entry.recorded_at ?? entry.occurred_at, title: `occurred ${formatTime(entry.occurred_at)}` },
        formatTime(entry.recorded_at ?? entry.occurred_at)),
      h('span', { class: 'actor' }, entry.actor.kind === 'anonymous' ? null : [entry.actor.name, ' '],
        badge(kindText, kindClass)),
      h('span', { class: 'what' }, describe(entry)),
      rejected ? badge('rejected', 'bad') : null,
      h('span', { class: 'muted small mono' }, `#${entry.seq}`),
      h('button', { type: 'button', class: 'link small', dataset: { index } }, 'as of here')),
    rejected ? h('p', { class: 'rejection' }, h('code', {}, entry.error_code ?? 'REJECTED'), ' ', entry.reason ?? '') : null,
    entry.changes?.length ? h('ul', { class: 'changes' }, entry.changes.map((c) => h('li', {}, changeText(c)))) : null,
    entry.event_type === 'promotion.decided' ? promotionView(entry.payload) : null,
    h('details', { class: 'payload' }, h('summary', { class: 'muted small' }, `event ${entry.event_type} · source ${entry.source ?? '—'}`),
      h('pre', {}, JSON.stringify(entry.payload, null, 2))));
}

function promotionView(p) {
  return h('div', { class: ['promotion', p.passed ? 'passed' : 'failed'] },
    h('p', {}, h('strong', {}, p.passed ? 'Passed: ' : 'Failed: '),
      `version ${p.version} to ${p.target_stage ?? `@${p.target_alias}`}`,
      p.replaced_version ? `, replacing version ${p.replaced_version}` : ', replacing no version'),
    h('table', { class: 'data compact' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Condition'), h('th', {}, 'Candidate'), h('th', {}, 'Current'),
        h('th', {}, 'Result'), h('th', {}, 'Detail'))),
      h('tbody', {}, (p.conditions ?? []).map((c) => h('tr', { class: c.passed ? '' : 'differs' },
        h('td', { class: 'mono' }, c.expression),
        h('td', { class: 'num' }, c.candidate ?? '—'),
        h('td', { class: 'num' }, c.current ?? '—'),
        h('td', {}, c.passed ? badge('pass', 'ok') : badge('fail', 'bad')),
        h('td', { class: 'muted small' }, c.detail ?? ''))))));
}
