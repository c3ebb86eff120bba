// Building DOM nodes and the UI's shared pieces: loading, empty and error states, formatting.
// Text always goes in as text nodes (never as HTML), so names, params and tags cannot inject.

/**
 * h('a', {href: '#/x', class: 'y', onclick: fn, dataset: {k: 'v'}}, 'text', child, [more])
 * Attributes set to null, undefined or false are left out; `true` sets an empty attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      node.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (name === 'class') {
      node.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    } else if (name === 'value' || name === 'checked' || name === 'indeterminate') {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace everything inside `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// ------------------------------------------------------------------------------------------
// States: every view shows one of these while it has nothing else to show.

export function loading(text = 'Loading…') {
  return h('div', { class: 'state loading', 'aria-busy': 'true', role: 'status' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(title, ...hint) {
  return h('div', { class: 'state empty' }, h('strong', {}, title), hint.length ? h('p', {}, ...hint) : null);
}

/** An API error as the server said it: MLflow's error code and message, and what was asked. */
export function errorBox(err, retry) {
  const code = err?.code ?? 'ERROR';
  const message = err?.message ?? String(err);
  return h('div', { class: 'state error', role: 'alert' },
    h('strong', {}, code === 'NETWORK_ERROR' ? 'The server cannot be reached' : 'The server refused the request'),
    h('p', {}, h('code', { class: 'error-code' }, code), ' ', h('span', { class: 'error-message' }, message)),
    err?.path ? h('p', { class: 'muted small' }, `${err.status ? `HTTP ${err.status} from ` : ''}${err.path}`) : null,
    retry ? h('button', { type: 'button', onclick: retry }, 'Retry') : null);
}

export function badge(text, kind = '') {
  return h('span', { class: ['badge', kind && `badge-${kind}`] }, text);
}

// ------------------------------------------------------------------------------------------
// Formatting

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(value) {
  if (value === null || value === undefined || value === '') return '—';
  const date = typeof value === 'number' ? new Date(value) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTime.format(date);
}

/** "3 min ago" with the exact time as a tooltip. */
export function timeAgo(value) {
  if (value === null || value === undefined) return h('span', { class: 'muted' }, 'never');
  const date = new Date(value);
  const seconds = Math.round((Date.now() - date.getTime()) / 1000);
  let text;
  if (Math.abs(seconds) < 45) text = 'just now';
  else if (Math.abs(seconds) < 3600) text = `${Math.round(seconds / 60)} min ago`;
  else if (Math.abs(seconds) < 86400) text = `${Math.round(seconds / 3600)} h ago`;
  else if (Math.abs(seconds) < 86400 * 45) text = `${Math.round(seconds / 86400)} days ago`;
  else text = formatTime(date.getTime());
  return h('time', { datetime: date.toISOString(), title: formatTime(date.getTime()) }, text);
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** A metric value as MLflow sends it (a number, or "NaN"/"Infinity" strings). */
export function formatValue(value) {
  if (typeof value !== 'number') return String(value ?? '—');
  if (Math.abs(value) >= 1.7976931348623157e308) return value > 0 ? '∞' : '−∞';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function formatBytes(size) {
  if (size < 1024) return `${size} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = size / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

export function statusBadge(status) {
  const kinds = { FINISHED: 'ok', RUNNING: 'info', FAILED: 'bad', KILLED: 'warn', SCHEDULED: 'info' };
  return badge(status ?? 'UNKNOWN', kinds[status] ?? '');
}

/** key → value of MLflow's [{key, value}] lists. */
export function keyed(items) {
  return new Map((items ?? []).map((item) => [item.key, item]));
}

export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}
