// Metric charts: uPlot (vendored) over MLflow's get-history-bulk-interval, which samples the
// history on the server. A chart asks for about one point per pixel of its width, so a
// 1,000,000-point metric arrives as ~1,000 points; dragging over a range zooms in and asks the
// server again for that step range only, so detail appears; double-click or "Reset" zooms out.
// The x axis is the step or the wall-clock time of each point.

import { api } from './api.js';
import { formatValue, h } from './dom.js';

const MAX_PER_RUN = 2500; // the server's limit per run (MLflow's)
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d',
  '#4d7c0f', '#7c3aed', '#b45309'];

export function runColor(index) {
  return PALETTE[index % PALETTE.length];
}

// Math.min(...xs) overflows the stack on long arrays.
const minOf = (xs) => xs.reduce((a, b) => (b < a ? b : a), Infinity);
const maxOf = (xs) => xs.reduce((a, b) => (b > a ? b : a), -Infinity);

function numeric(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  return Math.abs(value) >= 1.7976931348623157e308 ? null : value;
}

export class MetricChart {
  /**
   * @param {HTMLElement} container
   * @param {{key: string, runs: {id: string, name: string, color: string}[], xMode: 'step'|'time'}} options
   */
  constructor(container, { key, runs, xMode = 'step', height = 240 }) {
    this.key = key;
    this.runs = runs;
    this.xMode = xMode;
    this.height = height;
    this.plot = null;
    this.points = [];
    this.range = null; // {startStep, endStep, min, max} while zoomed
    this.controller = null;
    this.status = h('span', { class: 'chart-status muted small', 'aria-live': 'polite' });
    this.reset = h('button', { type: 'button', class: 'link small', hidden: true, onclick: () => this.zoomOut() }, 'Reset zoom');
    this.canvasBox = h('div', { class: 'chart-canvas' });
    this.root = h('figure', { class: 'chart', dataset: { metric: key, state: 'loading', points: '0' } },
      h('figcaption', {}, h('strong', {}, key), ' ', this.status, ' ', this.reset),
      this.canvasBox);
    container.append(this.root);
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.canvasBox);
  }

  width() {
    return Math.max(280, Math.floor(this.canvasBox.clientWidth || 600));
  }

  /** Load the whole history (sampled), or the step range of `range`. */
  async load(range = null) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.setState('loading', range ? 'Loading detail…' : 'Loading…');
    const maxResults = Math.min(MAX_PER_RUN, this.width());
    this.maxResults = maxResults;
    try {
      const body = await api.sampledHistory({
        runIds: this.runs.map((r) => r.id),
        key: this.key,
        maxResults,
        startStep: range?.startStep,
        endStep: range?.endStep,
      }, { signal: controller.signal });
      if (controller.signal.aborted) return;
      this.points = body.metrics ?? [];
      this.range = range;
      this.draw();
    } catch (err) {
      if (err.name === 'AbortError') return;
      this.destroyPlot();
      this.canvasBox.replaceChildren(h('div', { class: 'state error compact', role: 'alert' },
        h('code', { class: 'error-code' }, err.code ?? 'ERROR'), ' ', err.message));
      this.setState('error', '');
    }
  }

  setState(state, text) {
    this.root.dataset.state = state;
    this.status.textContent = text;
  }

  /** uPlot's columns: x, then one y series per run (null where a run has no point at that x). */
  columns() {
    const byRun = new Map(this.runs.map((r) => [r.id, new Map()]));
    for (const p of this.points) {
      const x = this.xMode === 'time' ? p.timestamp / 1000 : p.step;
      byRun.get(p.run_id)?.set(x, numeric(p.value)); // the last point at an x wins
    }
    const xs = [...new Set([...byRun.values()].flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
    return [xs, ...this.runs.map((r) => xs.map((x) => (byRun.get(r.id).has(x) ? byRun.get(r.id).get(x) : null)))];
  }

  draw() {
    const data = this.columns();
    this.root.dataset.points = String(this.points.length);
    const steps = this.points.map((p) => p.step);
    this.root.dataset.range = steps.length ? `${minOf(steps)}-${maxOf(steps)}` : '';
    this.reset.hidden = this.range === null;
    if (!this.points.length) {
      this.destroyPlot();
      this.canvasBox.replaceChildren(h('div', { class: 'state empty compact' },
        this.range ? 'No points in this step range.' : 'No points logged for this metric.'));
      this.setState('empty', '');
      return;
    }
    // The server returns exactly max_results points of a longer history.
    const perRun = new Map();
    for (const p of this.points) perRun.set(p.run_id, (perRun.get(p.run_id) ?? 0) + 1);
    const sampled = [...perRun.values()].some((n) => n >= this.maxResults);
    const what = `${this.points.length.toLocaleString()} points`;
    const where = this.range ? ` in steps ${this.range.startStep}–${this.range.endStep}` : '';
    this.setState('ready', `${what}${where}${sampled ? ' (sampled by the server; drag to zoom in)' : ''}`);
    if (this.plot) {
      this.plot.setData(data, true);
      if (this.range?.min !== undefined) this.plot.setScale('x', { min: this.range.min, max: this.range.max });
      return;
    }
    this.canvasBox.replaceChildren();
    this.plot = new window.uPlot(this.options(), data, this.canvasBox);
    this.plot.over.addEventListener('dblclick', () => this.zoomOut());
  }

  options() {
    return {
      width: this.width(),
      height: this.height,
      scales: { x: { time: this.xMode === 'time' } },
      series: [
        { label: this.xMode === 'time' ? 'Time' : 'Step' },
        ...this.runs.map((r) => ({
          label: r.name,
          stroke: r.color,
          width: 1.5,
          spanGaps: true,
          value: (_u, v) => (v === null || v === undefined ? '—' : formatValue(v)),
        })),
      ],
      axes: [{}, { size: 64, values: (_u, ticks) => ticks.map(formatValue) }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: false }, bind: { dblclick: () => null } },
      hooks: { setSelect: [(u) => this.selected(u)] },
    };
  }

  selected(u) {
    const { left, width } = u.select;
    if (width < 4) return;
    const min = u.posToVal(left, 'x');
    const max = u.posToVal(left + width, 'x');
    u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
    this.zoomIn(min, max);
  }

  /** The step range behind an x range: in time mode, the steps of the loaded points around it. */
  stepRange(min, max) {
    if (this.xMode === 'step') return { startStep: Math.floor(min), endStep: Math.ceil(max) };
    const sorted = [...this.points].sort((a, b) => a.timestamp - b.timestamp);
    const lo = sorted.filter((p) => p.timestamp / 1000 <= min).at(-1) ?? sorted[0];
    const hi = sorted.find((p) => p.timestamp / 1000 >= max) ?? sorted.at(-1);
    const inside = sorted.filter((p) => p.timestamp >= lo.timestamp && p.timestamp <= hi.timestamp);
    const steps = inside.map((p) => p.step);
    return { startStep: minOf(steps), endStep: maxOf(steps) };
  }

  zoomIn(min, max) {
    if (!this.points.length) return;
    const range = { ...this.stepRange(min, max), min, max };
    this.plot?.setScale('x', { min, max }); // at once, with the points already there
    this.load(range);
  }

  zoomOut() {
    if (this.range !== null) this.load(null);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height });
  }

  destroyPlot() {
    this.plot?.destroy();
    this.plot = null;
  }

  destroy() {
    this.controller?.abort();
    this.resizer.disconnect();
    this.destroyPlot();
  }
}

/** Charts for several metric keys, loaded a few at a time; returns a cleanup function. */
export function chartGrid(container, keys, runs, xMode) {
  const charts = keys.map((key) => new MetricChart(container, { key, runs, xMode }));
  let next = 0;
  const worker = async () => {
    while (next < charts.length) await charts[next++].load();
  };
  for (let i = 0; i < 3; i += 1) worker();
  return () => charts.forEach((c) => c.destroy());
}
