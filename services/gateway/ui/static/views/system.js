// The system: projection lag per partition (/api/ledgerflow/lag), the ingest rate and the audit
// chains' status (/api/ledgerflow/ui/system), refreshed every few seconds while the page is open.
// The page never verifies the chains itself: it shows where the last incremental verification
// (`ledgerflow audit verify --incremental`) found them intact.

import { api } from '../api.js';
import { badge, errorBox, fill, formatTime, h, loading, section, timeAgo } from '../dom.js';

const REFRESH_MS = 5000;

export async function render({ main, signal }) {
  document.title = 'System · ledgerflow';
  const lagBox = h('div', { id: 'lag' }, loading('Loading projection lag…'));
  const ingestBox = h('div', { id: 'ingest' }, loading('Loading ingest rate…'));
  const auditBox = h('div', { id: 'audit' }, loading('Loading audit status…'));
  const updated = h('span', { class: 'muted small', 'aria-live': 'polite' });
  fill(main,
    h('div', { class: 'page-head' }, h('h1', {}, 'System'), updated),
    section('Projection lag', h('p', { class: 'muted small' },
      'Records appended to the event log that the projector has not applied yet, per partition.'), lagBox),
    section('Ingest', ingestBox),
    section('Audit chains', auditBox));

  let timer = null;
  const refresh = async () => {
    const [lag, system] = await Promise.allSettled([api.lag({ signal }), api.system({ signal })]);
    if (signal.aborted) return;
    if (lag.status === 'fulfilled') fill(lagBox, lagView(lag.value));
    else fill(lagBox, errorBox(lag.reason));
    if (system.status === 'fulfilled') {
      fill(ingestBox, ingestView(system.value.ingest));
      fill(auditBox, auditView(system.value.audit));
    } else {
      fill(ingestBox, errorBox(system.reason));
      fill(auditBox, errorBox(system.reason));
    }
    updated.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${REFRESH_MS / 1000} s.`;
    timer = setTimeout(refresh, REFRESH_MS);
  };
  await refresh();
  return () => clearTimeout(timer);
}

function lagView(lag) {
  return [
    h('p', {}, lag.total_lag === 0 ? badge('caught up', 'ok') : badge(`${lag.total_lag.toLocaleString()} records behind`, 'warn')),
    h('table', { class: 'data compact', id: 'lag-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Topic'), h('th', { class: 'num' }, 'Partition'),
        h('th', { class: 'num' }, 'End offset'), h('th', { class: 'num' }, 'Applied'), h('th', { class: 'num' }, 'Lag'))),
      h('tbody', {}, lag.partitions.map((p) => h('tr', { class: p.lag > 0 ? 'differs' : '' },
        h('td', { class: 'mono' }, p.topic), h('td', { class: 'num' }, p.partition),
        h('td', { class: 'num' }, p.end_offset.toLocaleString()), h('td', { class: 'num' }, p.applied.toLocaleString()),
        h('td', { class: 'num' }, p.lag.toLocaleString()))))),
  ];
}

function ingestView(ingest) {
  const peak = Math.max(1, ...ingest.minutes.map((m) => m.control + m.data));
  return [
    h('p', {}, h('strong', { id: 'events-per-second' }, `${ingest.events_per_second.last_minute} events/s`),
      h('span', { class: 'muted' }, ` over the last minute; ${ingest.events_per_second.window} events/s over ${ingest.window_minutes} minutes (as recorded in the audit log; a metrics event holds up to 1,000 points).`)),
    h('div', { class: 'bars', role: 'img', 'aria-label': `Events per minute over the last ${ingest.window_minutes} minutes` },
      ingest.minutes.map((m) => {
        const total = m.control + m.data;
        const bar = h('div', { class: 'bar', title: `${formatTime(m.minute)}: ${m.data} data, ${m.control} control, ${m.rejected} rejected` },
          h('div', { class: 'bar-data' }), h('div', { class: 'bar-control' }));
        bar.children[0].style.height = `${(100 * m.data) / peak}%`;
        bar.children[1].style.height = `${(100 * m.control) / peak}%`;
        bar.dataset.total = String(total);
        return bar;
      })),
    h('div', { class: 'bars-axis muted small' }, h('span', {}, `${ingest.window_minutes} min ago`), h('span', {}, 'now')),
    h('p', { class: 'muted small' }, h('span', { class: 'swatch bar-data' }), ' data (metrics, params, tags, artifacts)  ',
      h('span', { class: 'swatch bar-control' }), ' control (runs, experiments, registry), per minute'),
    ingest.by_type.length
      ? h('table', { class: 'data compact' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Event type'), h('th', { class: 'num' }, `Events (${ingest.window_minutes} min)`),
          h('th', { class: 'num' }, 'Rejected'))),
        h('tbody', {}, ingest.by_type.map((t) => h('tr', {}, h('td', { class: 'mono' }, t.event_type),
          h('td', { class: 'num' }, t.events.toLocaleString()),
          h('td', { class: ['num', t.rejected && 'bad'] }, t.rejected.toLocaleString())))))
      : h('p', { class: 'muted' }, `No events in the last ${ingest.window_minutes} minutes.`),
  ];
}

function auditView(audit) {
  const broken = audit.chains.filter((c) => !c.head_matches || !c.checkpoint_matches);
  return [
    h('p', {},
      broken.length ? badge(`${broken.length} chain(s) inconsistent`, 'bad') : badge('heads consistent', 'ok'), ' ',
      `${audit.links.toLocaleString()} links in ${audit.chains.length} chains; `,
      audit.unverified_links ? `${audit.unverified_links.toLocaleString()} not verified yet. ` : 'all verified. ',
      audit.dead_letters ? badge(`${audit.dead_letters} dead letters`, 'bad') : h('span', { class: 'muted' }, 'No dead letters.')),
    h('p', { class: 'muted small' }, 'This page does not verify the chains (that reads every link). ',
      'Run ', h('code', {}, 'ledgerflow audit verify --incremental'),
      ' to verify the links added since the last verification and record the new checkpoint shown here.'),
    audit.chains.length ? h('table', { class: 'data compact', id: 'audit-table' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Chain'), h('th', { class: 'num' }, 'Links'), h('th', {}, 'Head hash'),
        h('th', {}, 'Last link'), h('th', {}, 'Verified through'), h('th', { class: 'num' }, 'Unverified'))),
      h('tbody', {}, audit.chains.map((c) => h('tr', { class: !c.head_matches || !c.checkpoint_matches ? 'differs' : '' },
        h('td', { class: 'mono' }, c.chain),
        h('td', { class: 'num' }, c.head_seq.toLocaleString()),
        h('td', { class: 'mono small', title: c.head_hash }, `${c.head_hash.slice(0, 16)}…`,
          c.head_matches ? null : [' ', badge('head differs from its row', 'bad')]),
        h('td', {}, timeAgo(c.head_recorded_at)),
        h('td', {}, c.verified_seq === null ? h('span', { class: 'muted' }, 'never')
          : [`link ${c.verified_seq.toLocaleString()}, `, timeAgo(c.verified_at)],
        c.checkpoint_matches ? null : [' ', badge('checkpoint no longer matches', 'bad')]),
        h('td', { class: 'num' }, c.unverified_links.toLocaleString())))))
      : h('p', { class: 'muted' }, 'No audit links yet.'),
  ];
}
