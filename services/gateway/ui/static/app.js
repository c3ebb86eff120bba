// The router: every view has a hash URL (#/experiments/1?filter=...), so each one is linkable.
// A view module exports `render(ctx)`; it may return a cleanup function (timers, charts).
// Navigating away aborts the view's requests (ctx.signal) and runs its cleanup.

import { ApiError } from './api.js';
import { errorBox, fill, h, loading } from './dom.js';
import { currentLocation } from './nav.js';
import * as compare from './views/compare.js';
import * as experiments from './views/experiments.js';
import * as model from './views/model.js';
import * as models from './views/models.js';
import * as run from './views/run.js';
import * as runs from './views/runs.js';
import * as system from './views/system.js';

const ROUTES = [
  { pattern: /^\/(?:experiments)?$/, view: experiments, nav: 'experiments' },
  { pattern: /^\/experiments\/([^/]+)$/, view: runs, nav: 'experiments' },
  { pattern: /^\/runs\/([^/]+)$/, view: run, nav: 'experiments' },
  { pattern: /^\/compare$/, view: compare, nav: 'experiments' },
  { pattern: /^\/models$/, view: models, nav: 'models' },
  { pattern: /^\/models\/(.+)$/, view: model, nav: 'models' },
  { pattern: /^\/system$/, view: system, nav: 'system' },
];

const main = document.getElementById('view');
let active = null;

function notFound(path) {
  return h('div', { class: 'state error', role: 'alert' },
    h('strong', {}, 'No such page'),
    h('p', {}, `Nothing lives at #${path}. `, h('a', { href: '#/' }, 'Go to the experiments.')));
}

async function route() {
  if (active) {
    active.controller.abort();
    try {
      active.cleanup?.();
    } catch (err) {
      console.error(err);
    }
  }
  const { path, query } = currentLocation();
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  for (const link of document.querySelectorAll('[data-nav]')) {
    link.classList.toggle('active', match?.r.nav === link.dataset.nav);
  }
  const controller = new AbortController();
  const current = { controller, cleanup: null };
  active = current;
  if (!match) {
    fill(main, notFound(path));
    return;
  }
  fill(main, loading());
  const ctx = {
    main,
    params: match.m.slice(1).map(decodeURIComponent),
    query,
    signal: controller.signal,
    isCurrent: () => active === current,
  };
  try {
    current.cleanup = (await match.r.view.render(ctx)) ?? null;
  } catch (err) {
    if (err.name === 'AbortError' || !ctx.isCurrent()) return;
    if (!(err instanceof ApiError)) console.error(err); // a bug of the page, not an answer

    fill(main, errorBox(err, () => route()));
  }
  if (!ctx.isCurrent()) current.cleanup?.();
}

window.addEventListener('hashchange', route);
route();
